"""The docs cannot drift from the code: every key of abaco.conf the platform
knows (libactor/src/config_keys.c) is described in docs/configuration.md
under its section, every key the stock abaco.conf sets is known, and every
reference to a page of docs/ in the sources and the docs (its path, then
maybe a heading in double quotes) names a file and a heading that exist. Needs no running stack."""
import re
import subprocess

from conftest import REPO
import os

CONFIG_KEYS = os.path.join(REPO, "libactor", "src", "config_keys.c")
CONFIG_MD = os.path.join(REPO, "docs", "configuration.md")
ABACO_CONF = os.path.join(REPO, "abaco.conf")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def known_keys():
    """[(section, key, used)] of the KEYS table, and [(section, prefix,
    used)] of the PATTERNS table of config_keys.c."""
    src = read(CONFIG_KEYS)
    keys_block = re.search(r"static const key_def_t KEYS\[\] = \{(.*?)\n\};", src, re.S).group(1)
    keys = [(s, k, u == "true") for s, k, u in
            re.findall(r'\{"([a-z_]+)", "([A-Za-z0-9_.]+)", (true|false), PER_[A-Z_]+\}', keys_block)]
    n_lines = len([ln for ln in keys_block.splitlines() if ln.strip()])
    assert len(keys) == n_lines, "config_keys.c: an entry of KEYS was not understood"
    pat_block = re.search(r"\} PATTERNS\[\] = \{(.*?)\};", src, re.S).group(1)
    patterns = [(s, p, u == "true") for s, p, u in
                re.findall(r'\{"([a-z_]+)", "([A-Za-z_.]*)", (true|false), (?:true|false)\}', pat_block)]
    assert len(patterns) >= 4, patterns
    return keys, patterns


def sections(md):
    """{section name: text} of the `### [section]` parts of configuration.md,
    and the text of its "accepted but not used" part under key None."""
    out = {}
    parts = re.split(r"^(#{2,3} .*)$", md, flags=re.M)
    for head, body in zip(parts[1::2], parts[2::2]):
        m = re.match(r"### \[([a-z_]+)\]", head)
        if m:
            out[m.group(1)] = body
        elif "accepted but not used" in head:
            out[None] = body
    return out


def test_every_known_key_is_in_configuration_md():
    keys, patterns = known_keys()
    assert len(keys) > 100
    secs = sections(read(CONFIG_MD))
    missing = []
    for section, key, used in keys:
        if used:
            text = secs.get(section, "")
            # a key is its own backquoted cell: `key` (a row may name two)
            if f"`{key}`" not in text:
                missing.append(f"[{section}] {key}")
        elif not re.search(rf"\[{section}\][^|]*`{re.escape(key)}`|\[{section}\] {re.escape(key)}\b",
                           secs[None]):
            missing.append(f"[{section}] {key} (Abaco's, unused)")
    for section, prefix, used in patterns:
        # `level.<module>` in its section; Abaco's as `[docker] dockerhub_username_<n>`
        needle = f"`{prefix}<" if used else f"{prefix}<"
        if needle not in (secs.get(section, "") if used else secs[None]):
            missing.append(f"[{section}] {prefix}<...>")
    assert not missing, "docs/configuration.md does not describe: " + ", ".join(missing)


def test_every_key_of_abaco_conf_is_known():
    keys, patterns = known_keys()
    known = {(s, k.lower()) for s, k, _ in keys}
    section, unknown = None, []
    for line in read(ABACO_CONF).splitlines():
        line = line.strip()
        if not line or line[0] in ";#":
            continue
        m = re.match(r"\[([a-z_]+)\]", line)
        if m:
            section = m.group(1)
            continue
        key = re.split(r"\s*[=:]", line, maxsplit=1)[0].lower()
        if (section, key) not in known and not any(
                s == section and key.startswith(p.lower()) for s, p, _ in patterns):
            unknown.append(f"[{section}] {key}")
    assert not unknown, "abaco.conf sets keys config_keys.c does not know: " + ", ".join(unknown)


def headings(md):
    return [h.strip() for h in re.findall(r"^#{1,6} (.*)$", md, flags=re.M)]


def test_doc_references_exist():
    files = subprocess.run(["git", "-C", REPO, "ls-files"], capture_output=True, text=True,
                           check=True).stdout.split()
    texts = [f for f in files if re.search(r"\.(c|h|py|sh|md|txt|conf|cmake|json)$|Makefile$", f)]
    bad = []
    for f in texts:
        text = read(os.path.join(REPO, f))
        if f != "tests/functional/test_docs.py" and re.search(
                r"DESIGN\.md|\bAPI\.md|\.\./shared", text):
            bad.append(f"{f}: cites DESIGN.md, API.md or ../shared")
        here = os.path.dirname(f)
        for m in re.finditer(r'((?:docs/)?[a-z_]+\.md),? "([^"]+)"', text):
            doc, heading = m.group(1), m.group(2)
            path = doc if doc.startswith("docs/") else os.path.join(here, doc)
            if not os.path.exists(os.path.join(REPO, path)):
                path = os.path.join("docs", doc)
            if not os.path.exists(os.path.join(REPO, path)):
                bad.append(f"{f}: {doc} does not exist")
                continue
            if not any(h.startswith(heading) for h in headings(read(os.path.join(REPO, path)))):
                bad.append(f'{f}: {path} has no heading "{heading}"')
        for m in re.finditer(r"\bdocs/([A-Za-z0-9_-]+\.(?:md|json))", text):
            if not os.path.exists(os.path.join(REPO, "docs", m.group(1))):
                bad.append(f"{f}: docs/{m.group(1)} does not exist")
    assert not bad, "\n".join(sorted(set(bad)))
