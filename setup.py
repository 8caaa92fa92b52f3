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
    # keras 3.15, keras-hub 0.32 and onnxruntime 1.32 (pinned below) publish
    # nothing for Python 3.10, TensorFlow 2.21 nothing for 3.14: there pip
    # failed on one of them with no word of the Python version. The suite
    # passes on 3.11 and 3.13.
    python_requires=">=3.11,<3.14",
    packages=find_packages(include=["keras_pose", "keras_pose.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        # 3.15: PoseTrainingModel overrides a private step of fit (see its
        # _maybe_symbolic_build); FusedAdam reads Adam's private slots.
        "keras>=3.15,<3.16",
        "numpy",
        "opencv-python-headless",
        "pycocotools",
        "absl-py",
        # EXIF orientation of photos (keras_pose.data.images); TensorBoard
        # installs it anyway.
        "pillow",
        "scipy",
        "tqdm",
        # tf.summary (TensorBoard logs) needs it; TF 2.21 no longer installs it.
        "tensorboard",
        # timm's safetensors copies of torchvision's ImageNet ResNets.
        "safetensors",
        # COCO-trained person detectors (keras_pose.detection), Keras' own hub.
        "keras-hub>=0.32,<0.33",
        # PoseTrack's tracking metrics (MOTA) as the official poseval computes
        # them, and its ignore-region polygons.
        "motmetrics>=1.4,<2",
        "shapely>=2,<3",
    ],
    extras_require={
        # The PyTorch side of scripts/benchmark_inference.py and
        # benchmark_training.py (the converters read .pth files without torch;
        # the parity tests take it from the test extra); pinned so that the
        # install stays a small CPU build.
        "torch": ["torch==2.13.0"],
        # pytest-xdist: the suite runs on up to 4 cores, by test file (the README
        # gives its time); filelock: fixtures its workers build once and share.
        "test": ["pytest", "pytest-xdist>=3.6,<4", "filelock>=3.12,<5", "torch==2.13.0"],
        # Deployment runtimes (keras_pose.export.runtimes): ONNX Runtime,
        # OpenVINO (nncf: its int8 quantization), LiteRT.
        "deploy": ["onnx>=1.23,<2", "onnxruntime>=1.32,<2", "tf2onnx>=1.17,<2",
                   "openvino>=2026.4,<2027", "nncf>=3.4,<4", "ai-edge-litert>=2.3,<3"],
    },
)
