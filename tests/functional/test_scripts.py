"""The install scripts' own logic, run for real: which archive deps.sh takes
bookworm-backports from (the machine's own apt sources, both formats), and
the import check that `make test` runs before any test."""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO


def suite_uri(tmp_path, suite):
    r = subprocess.run(["bash", "-c", '. scripts/lib.sh && apt_suite_uri "$1"', "-", suite],
                       cwd=REPO, env=dict(os.environ, APT_ETC=str(tmp_path)),
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout.strip()


def test_apt_uri_from_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(textwrap.dedent("""\
        # deb http://commented.example/debian bookworm main
        deb-src http://src.example/debian bookworm main
        deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.site.example/debian bookworm main contrib
        deb http://security.site.example/debian-security bookworm-security main
        """))
    assert suite_uri(tmp_path, "bookworm") == (0, "http://mirror.site.example/debian")
    assert suite_uri(tmp_path, "bookworm-security") == (0, "http://security.site.example/debian-security")
    assert suite_uri(tmp_path, "bookworm-backports")[0] == 1


def test_apt_uri_from_deb822_sources(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(textwrap.dedent("""\
        Types: deb
        URIs: http://disabled.example/debian
        Suites: bookworm
        Components: main
        Enabled: no

        Types: deb-src
        URIs: http://src.example/debian
        Suites: bookworm
        Components: main

        Types: deb deb-src
        # a comment inside a stanza
        URIs: https://mirror.site.example/debian http://second.example/debian
        Suites: bookworm bookworm-updates
        Components: main
        Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
        """))
    assert suite_uri(tmp_path, "bookworm") == (0, "https://mirror.site.example/debian")
    assert suite_uri(tmp_path, "bookworm-updates") == (0, "https://mirror.site.example/debian")
    assert suite_uri(tmp_path, "bookworm-backports")[0] == 1


def check_imports(root):
    return subprocess.run([sys.executable, os.path.join(REPO, "scripts", "check_imports.py"), str(root)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def fake_root(tmp_path):
    (tmp_path / "tests" / "functional").mkdir(parents=True)
    (tmp_path / "bench").mkdir()
    (tmp_path / "tests" / "functional" / "helper.py").write_text("import json\n")
    return tmp_path


def test_import_check_passes_listed_modules(fake_root):
    (fake_root / "tests" / "functional" / "requirements.txt").write_text("requests==2.34.2\nPyJWT[crypto]>=2\n")
    (fake_root / "tests" / "functional" / "test_a.py").write_text(
        "import os\nimport helper\nimport requests\nfrom jwt import encode\n")
    r = check_imports(fake_root)
    assert r.returncode == 0, r.stderr
    assert "jwt, requests" in r.stdout


def test_import_check_fails_on_an_unlisted_module(fake_root):
    # requests is installed (the suite uses it) but this list does not name it
    (fake_root / "tests" / "functional" / "requirements.txt").write_text("pytest\n")
    (fake_root / "bench" / "b.py").write_text("def f():\n    import requests\n")
    r = check_imports(fake_root)
    assert r.returncode == 1
    assert "requests (imported by bench/b.py:2) comes from requests, which" in r.stderr
    assert "does not list" in r.stderr


def test_import_check_fails_on_a_missing_module(fake_root):
    (fake_root / "tests" / "functional" / "requirements.txt").write_text("pytest\n")
    (fake_root / "tests" / "functional" / "test_b.py").write_text("import pytest\nimport no_such_module_here\n")
    r = check_imports(fake_root)
    assert r.returncode == 1
    assert "no_such_module_here (imported by tests/functional/test_b.py:2) cannot be imported" in r.stderr
    assert "pytest" not in r.stderr


@pytest.mark.parametrize("endpoint,host,port", [
    ("http://127.0.0.1:5000", "127.0.0.1", "5000"),
    ("http://localhost:5001/", "localhost", "5001"),
    ("http://127.0.0.1", "127.0.0.1", "80"),
    ("http://10.0.0.1:5000", "", ""),
    ("https://ec2.us-east-1.amazonaws.com", "", ""),
])
def test_moto_only_for_a_loopback_cloud_endpoint(endpoint, host, port):
    """up.sh starts a moto server exactly when [cloud] endpoint (here its
    cloud_endpoint override) is a loopback http URL."""
    r = subprocess.run(["bash", "-c", '. scripts/lib.sh && load_stack_config && '
                        'echo "$CLOUD_ENDPOINT|$MOTO_HOST|$MOTO_PORT"'],
                       cwd=REPO, env=dict(os.environ, cloud_endpoint=endpoint),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{endpoint.rstrip('/')}|{host}|{port}"
