"""conventions/ is the single source: the generated module must be current and consistent."""

from __future__ import annotations

from genai_otel import _semconv_gen, semconv


def test_generated_module_is_current():
    assert not _semconv_gen.is_stale(), "run `genai-otel semconv generate` after editing conventions/"


def test_own_attributes_use_the_project_prefix_and_never_gen_ai():
    for name, spec in semconv.ATTRIBUTES.items():
        if spec["source"] == "genai_otel":
            assert name.startswith(semconv.PROJECT_PREFIX)
        assert not name.startswith(semconv.PROJECT_PREFIX) or spec["source"] == "genai_otel"


def test_every_span_and_metric_attribute_is_registered():
    for shape in semconv.SPAN_SHAPES.values():
        assert set(shape["attributes"]) <= set(semconv.ATTRIBUTES)
    assert set(semconv.METRIC_POINT_ATTRIBUTES) <= set(semconv.ATTRIBUTES)
    for profile in semconv.METRIC_PROFILES.values():
        for new, old in profile["span_aliases"].items():
            assert new in semconv.ATTRIBUTES and old in semconv.ATTRIBUTES
        for metric in profile["metrics"]:
            assert metric["instrument"] in ("histogram", "counter")
            assert metric["instrument"] == "counter" or metric["buckets"] in semconv.METRIC_BUCKETS


def test_schema_url_and_pin_come_from_upstream_yaml():
    from genai_otel import conventions

    pin = conventions.load("UPSTREAM.yaml")
    assert pin["schema_url"] == semconv.SCHEMA_URL and pin["commit"] == semconv.UPSTREAM_COMMIT
    assert len(semconv.UPSTREAM_COMMIT) == 40


def test_runtime_data_is_package_data_not_generated_code():
    from genai_otel import conventions

    source = (_semconv_gen.GENERATED_MODULE).read_text(encoding="utf-8")
    assert "PRICES" not in source and "NORMALIZATION" not in source
    # The data is package data, loaded once where it is used.
    assert conventions.prices() is conventions.prices() and conventions.normalization()["dialects"]


def test_semconv_commands_work_from_an_installed_wheel(tmp_path):
    """The wheel carries conventions/ as package data: `semconv check` and `diff` run from it alone."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(repo),
            "-w",
            str(tmp_path),
        ],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("genai_otel-*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "genai_otel" / "_conventions" / "prices.yaml").is_file()
    script = (
        "import sys, genai_otel; assert genai_otel.__file__.startswith(sys.argv[1]), genai_otel.__file__;"
        "from genai_otel.cli import main; from genai_otel import conventions;"
        "assert conventions.prices()['providers'];"
        "sys.exit(main(['semconv', 'check']))"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "semconv.py is current" in done.stdout
