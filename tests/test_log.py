"""The library's log lines leave the host program's logging alone: absl's
log functions put a stderr handler on a root logger that has none, and a
service's own ``logging.basicConfig(level=INFO, ...)`` after keras-pose's
first log line then did nothing (its INFO lines were lost)."""

import subprocess
import sys

HOST = """
import logging
from keras_pose.configs.keypoints import resolve_flip_pairs

resolve_flip_pairs(["left_eye", "right_eye"])  # Logs "Flip pairs (...)" at INFO.
print("root handlers after the library logged:", len(logging.root.handlers))
logging.basicConfig(level=logging.INFO, format="HOST|%(filename)s|%(message)s")
logging.getLogger("service").info("the host's own line")
resolve_flip_pairs(["left_eye", "right_eye"])
"""


def test_a_host_programs_logging_setup_is_its_own_after_keras_pose_logs():
    done = subprocess.run([sys.executable, "-c", HOST], capture_output=True, text=True,
                          timeout=300, check=True)
    assert "root handlers after the library logged: 0" in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("HOST|")]
    # The host's format and level rule both, and the line names its caller's file.
    assert lines == ["HOST|<string>|the host's own line",
                     "HOST|keypoints.py|Flip pairs (derived from the keypoint names): "
                     "left_eye<->right_eye"], done.stderr
