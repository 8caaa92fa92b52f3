"""The benchmark scripts' number flags refused at parsing, one line naming
the flag. Each value below was taken: an abort in TensorFlow's C++ (rc 134)
or a traceback (``--threads -1``, ``--megapixels 0``, ``--calls 0``,
``--calibration 0``...), or figures of nothing (``--rounds 0``: an empty
table or "nan s"; ``--seconds 0``: "0.00 images/s"; ``--repeats 0``: no
measurement, exit 0; ``--batch 0``: timings of empty batches)."""

import pytest
from absl import flags

from tests.scripts import script_runs

REFUSED = [
    ("benchmark_training", "--threads=-1"),
    ("benchmark_inference", "--threads=-1"),
    ("benchmark_inference", "--rounds=0"),
    ("benchmark_inference", "--calibration=0"),
    ("benchmark_inference", "--seconds=nan"),
    ("benchmark_inference", "--seconds=-1"),
    ("benchmark_inference", "--train_batch=0"),
    ("benchmark_postprocess", "--people_per_image=nan"),
    ("benchmark_postprocess", "--people_per_image=inf"),
    ("benchmark_postprocess", "--reference_people=-1"),
    ("benchmark_serving_memory", "--megapixels=0"),
    ("benchmark_serving_memory", "--megapixels=-3"),
    ("benchmark_serving_memory", "--megapixels=nan"),
    ("benchmark_serving_memory", "--megapixels=5000"),  # past JPEG's 65,535 pixels a side
    ("benchmark_serving_memory", "--repeats=0"),
    ("profile_inference", "--calls=0"),
    ("profile_inference", "--batch=0"),
    ("profile_inference", "--top=0"),
    ("benchmark_validation", "--rounds=0"),
    ("benchmark_validation", "--rounds=-2"),
    ("benchmark_split_threads", "--seconds=0"),
    ("benchmark_split_threads", "--seconds=-1"),
    ("benchmark_split_threads", "--seconds=nan"),
]


@pytest.mark.parametrize("script, flag", REFUSED)
def test_a_value_out_of_range_is_refused_at_parsing(load_script, script, flag):
    module = load_script(script)
    with pytest.raises(flags.IllegalFlagValueError, match=f"flag {flag}"):
        module.FLAGS([script, flag])


@pytest.mark.parametrize("script, flag", [("benchmark_training", "--threads=0"),
                                          ("benchmark_inference", "--threads=0"),
                                          ("benchmark_inference", "--seconds=0"),
                                          ("benchmark_postprocess", "--reference_people=0"),
                                          ("benchmark_serving_memory", "--megapixels=0.01")])
def test_the_smallest_meaningful_values_are_taken(load_script, script, flag):
    """0 threads: each runtime's default; 0 seconds: two calls; 0 reference
    people: no comparison; 0.01 megapixels: a 115 x 86 image."""
    module = load_script(script)
    module.FLAGS([script, flag])


def test_postprocess_refuses_fewer_people_than_one_image_holds(load_script, capsys):
    """--people 10 at 20.8 people per image: no whole image (a traceback
    from NumPy's random integers)."""
    module = load_script("benchmark_postprocess")
    code, _, err = script_runs.run(module, capsys, ["--people", "10"])
    assert code == 1
    assert ("--people 10 is fewer than --people_per_image 20.8: give at least one image's "
            "people, or a smaller --people_per_image") in err


def test_profile_inference_checks_its_logdir_before_the_run(load_script, capsys, monkeypatch,
                                                           tmp_path):
    """A file as --logdir failed in TensorFlow's profiler, after the run."""
    module = load_script("profile_inference")

    def network(directory):
        raise AssertionError("the network was built before --logdir was checked")

    monkeypatch.setattr(module, "_network", network)
    (tmp_path / "trace").write_text("a file")
    code, _, err = script_runs.run(module, capsys, ["--logdir", str(tmp_path / "trace")])
    assert code == 1
    assert f"--logdir {tmp_path / 'trace'} is a file, not a directory: give a folder" in err
