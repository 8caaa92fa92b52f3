"""keras-pose: Simple Baselines for Human Pose Estimation in TensorFlow 2 / Keras 3."""

from setuptools import find_packages, setup

setup(
    name="keras-pose",
    version="0.1.0",
    description=("Simple Baselines for Human Pose Estimation (Xiao et al., "
                 "ECCV 2018) in TensorFlow 2 / Keras 3"),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_pose", "keras_pose.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10",
        "numpy",
        "opencv-python-headless",
        "pycocotools",
        "absl-py",
        "scipy",
        "tqdm",
        # tf.summary (TensorBoard logs) needs it; TF 2.21 no longer installs it.
        "tensorboard",
    ],
    extras_require={
        # Only scripts/convert_pytorch_checkpoint.py and its parity test use
        # torch; pinned so that the install stays a small CPU build.
        "torch": ["torch==2.13.0"],
        "test": ["pytest", "torch==2.13.0"],
    },
)
