#!/usr/bin/env python3
"""Runs every code block of README.md, the way rustdoc runs doc examples, so that the README
cannot drift from what works.

Each fenced block is tested by its language, or by a `<!-- readme-test: MODE ... -->` comment
on the line before it:

  sh                   run as written with bash (set -e), from the checkout, in order; HOME is
                       a temporary directory shared by the blocks (for `make install`)
  make-dry             each line is a make command whose targets must exist (the block lists
                       `make test` itself, which cannot run inside `make test`)
  file PATH            the block is PATH of the checkout, verbatim (PATH is built and run by
                       the README's own commands, or by `make test`)
  fragment HARNESS     C: the block goes into the C file HARNESS (the part up to its last
                       top-level `}` at README_TOP, the rest at README_BODY), which is built
                       and run against the loopback server; CMakeLists.txt: the block is
                       appended to the harness project, configured against the install the
                       `sh` blocks made, built and run
  json                 (json default) loaded with tokenforge_pipeline_from_json; each
                       ${env:NAME} it names is set
  json-absent-files    as json, but the files it names live on the user's machine: a failure
                       must name one of them (so keys, kinds and templates were all accepted)
  skip REASON          not run

Prints one line per block and "readme: N passed, N failed"; exits 1 on a failure.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.path.join(ROOT, "target", "release", "tokenforge-testserver")
WITH_SERVER = [os.path.join(ROOT, "scripts", "with-server.sh"), SERVER]
CC = os.environ.get("CC", "cc")


def blocks(text):
    """(line number, language, directive, body) of each fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        lang = m.group(1)
        start = i
        j = i + 1
        while j < len(lines) and lines[j] != "```":
            j += 1
        k = start - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        d = re.match(r"^<!-- readme-test: (.*?) -->$", lines[k].strip()) if k >= 0 else None
        yield start + 1, lang, d.group(1) if d else None, "\n".join(lines[start + 1 : j]) + "\n"
        i = j + 1


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=kw.pop("cwd", ROOT), capture_output=True, text=True, timeout=600, **kw)


def explain(r):
    return (r.stdout + r.stderr).strip()[-3000:]


class Checker:
    def __init__(self, tmp):
        self.tmp = tmp
        self.home = os.path.join(tmp, "home")
        os.makedirs(self.home)
        # A HOME of its own (so `make install PREFIX=$HOME/.local` stays in the test), with
        # the toolchains' own directories where they were.
        real = os.path.expanduser("~")
        self.env = dict(os.environ, HOME=self.home)
        for var, default in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo"), ("GOPATH", "go"),
                             ("GOCACHE", ".cache/go-build")):
            self.env.setdefault(var, os.path.join(real, default))
        for v in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            self.env.pop(v, None)
        self.n = 0

    def sh(self, body):
        r = run(["bash", "-e", "-c", body], env=self.env)
        return r.returncode == 0, explain(r)

    def make_dry(self, body):
        # The targets must exist: read from make's database (`make -n` would run the
        # recursive make of `make test`, which this test is part of).
        r = run(["make", "-qp"], env=self.env)
        targets = set(re.findall(r"^([A-Za-z0-9_.-]+):", r.stdout, re.M))
        for line in body.splitlines():
            cmd = line.split("#")[0].split()
            if not cmd:
                continue
            if cmd[0] != "make":
                return False, f"not a make command: {line}"
            for target in (a for a in cmd[1:] if "=" not in a and not a.startswith("-")):
                if target not in targets:
                    return False, f"make has no target {target}"
        return True, ""

    def file(self, body, path):
        with open(os.path.join(ROOT, path)) as f:
            want = f.read()
        if want.rstrip("\n") != body.rstrip("\n"):
            return False, f"the block differs from {path}: copy the file into the README"
        return True, ""

    def build_c(self, source, out):
        lib = os.path.join(ROOT, "target", "release")
        r = run(
            [CC, "-std=c11", "-Wall", "-Werror", "-Wno-unused-parameter", "-Iinclude", source, "-L" + lib,
             "-Wl,-rpath," + lib, "-ltokenforge", "-o", out],
            env=self.env,
        )
        return r.returncode == 0, explain(r)

    def fragment(self, body, harness):
        self.n += 1
        if harness.endswith("CMakeLists.txt"):
            return self.cmake(body, harness)
        with open(os.path.join(ROOT, harness)) as f:
            text = f.read()
        lines = body.rstrip("\n").split("\n")
        # Function definitions at the top (from a `static` line to the first `}` in column
        # one) go to file scope; statements after them go into main.
        cut = 0
        while cut < len(lines) and lines[cut].startswith("static "):
            ends = [i for i in range(cut, len(lines)) if lines[i] == "}"]
            if not ends:
                break
            cut = ends[0] + 1
            while cut < len(lines) and lines[cut].strip() == "":
                cut += 1
        top, rest = "\n".join(lines[:cut]), "\n".join(lines[cut:])
        for marker in ("/* README_TOP */", "/* README_BODY */"):
            if marker not in text:
                return False, f"{harness} has no {marker}"
        source = os.path.join(self.tmp, f"fragment{self.n}.c")
        with open(source, "w") as f:
            f.write(text.replace("/* README_TOP */", top).replace("/* README_BODY */", rest))
        exe = source[:-2]
        ok, why = self.build_c(source, exe)
        if not ok:
            return False, why
        env = dict(self.env, REDIS_URL="redis://127.0.0.1:9")
        r = run(WITH_SERVER + [exe], env=env)
        return r.returncode == 0, explain(r)

    def cmake(self, body, harness):
        src = os.path.join(self.tmp, "cmake-src")
        shutil.copytree(os.path.dirname(os.path.join(ROOT, harness)), src)
        with open(os.path.join(src, "CMakeLists.txt"), "a") as f:
            f.write(body)
        build = os.path.join(self.tmp, "cmake-build")
        prefix = os.path.join(self.home, ".local")
        r = run(["cmake", "-S", src, "-B", build, "-DCMAKE_PREFIX_PATH=" + prefix, "-DTOKENFORGE_SOURCE_DIR=" + ROOT],
                env=self.env)
        if r.returncode != 0:
            return False, "cmake (after the README's `make install` block): " + explain(r)
        r = run(["cmake", "--build", build], env=self.env)
        if r.returncode != 0:
            return False, explain(r)
        r = run(WITH_SERVER + [os.path.join(build, "app")], env=self.env)
        return r.returncode == 0, explain(r)

    def json(self, body, absent_files):
        self.n += 1
        loader = os.path.join(self.tmp, "load_json")
        if not os.path.exists(loader):
            ok, why = self.build_c(os.path.join(ROOT, "tests", "readme", "load_json.c"), loader)
            if not ok:
                return False, why
        path = os.path.join(self.tmp, f"block{self.n}.json")
        with open(path, "w") as f:
            f.write(body)
        env = dict(self.env)
        for name in re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", body):
            env[name] = "readme-test-value"
        r = run([loader, path], env=env)
        if r.returncode == 0:
            return True, ""
        if absent_files:
            files = re.findall(r'"(/[^"]+\.pem)"', body)
            message = r.stdout.strip()
            problems = re.split(r"; \(\d+\) ", message.split(" problems: (1) ", 1)[-1])
            if files and all(any(f in p for f in files) for p in problems):
                return True, ""
        return False, explain(r)


def main():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    passed, failed = 0, 0
    tmp = tempfile.mkdtemp(prefix="tokenforge-readme-")
    made = [os.path.join(ROOT, "build", n) for n in ("quickstart", "quickstart-cpp", "quickstart-installed")]
    try:
        c = Checker(tmp)
        for line, lang, directive, body in blocks(text):
            mode, _, arg = (directive or "").partition(" ")
            if not mode:
                mode = {"sh": "sh", "json": "json"}.get(lang, "")
            if mode == "skip":
                print(f"README.md:{line}: {lang} block skipped ({arg})")
                continue
            if mode == "sh":
                ok, why = c.sh(body)
            elif mode == "make-dry":
                ok, why = c.make_dry(body)
            elif mode == "file":
                ok, why = c.file(body, arg)
            elif mode == "fragment":
                ok, why = c.fragment(body, arg)
            elif mode in ("json", "json-absent-files"):
                ok, why = c.json(body, mode == "json-absent-files")
            else:
                ok, why = False, f"a {lang or 'plain'} block with no readme-test directive: say how to test it"
            what = f"README.md:{line}: {lang} block ({mode}{' ' + arg if arg else ''})"
            if ok:
                passed += 1
                print(f"{what}: ok")
            else:
                failed += 1
                print(f"{what}: FAILED\n{why}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for m in made:
            if os.path.exists(m):
                os.remove(m)
    print(f"readme: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
