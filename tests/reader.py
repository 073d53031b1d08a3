"""What a reader of a README has: its `sh` blocks, and a shell of their own.

Used by test_readme.py (this repository's README) and team_scenario.py (this
README, then the rendered project's "Add a resource" and "Update it"). Plain functions, no pytest: nox imports
this module too.
"""

import os
import re

# Set by nox, uv or these tests; a reader's shell has none of them.
NOT_THE_READERS = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "TEST_DATABASE_URL", "DATABASE_URL"}


class ReadmeError(Exception):
    """A README without a section or block its reader is told to follow."""


def sh_block(text: str, section: str) -> list[str]:
    """The commands of the first `sh` block under `## section`."""
    match = re.search(
        rf"^## {re.escape(section)}\n.*?^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL
    )
    if match is None:
        raise ReadmeError(f"README: no sh block under '## {section}'")
    return sh_lines(match.group(1))


def sh_lines(block: str) -> list[str]:
    """A block's commands: one a line, without blank lines and `  #` comments."""
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def reader_environment(name: str = "Reader") -> dict[str, str]:
    """This process's environment as a reader's shell has it: no virtual
    environment or database of these tests, nothing of nox's, and a git identity."""
    email = f"{name.lower()}@example.com"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in NOT_THE_READERS and not key.startswith("NOX")
    }
    return env | {
        "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
    }


def resource_steps(readme: str) -> list[tuple[str, str, str]]:
    """The numbered steps of "Add a resource": each title, the language of its
    code block, and the code."""
    section = re.search(r"^## Add a resource\n(.*?)^## ", readme, re.MULTILINE | re.DOTALL)
    if section is None:
        raise ReadmeError("README: no '## Add a resource' section")
    steps = re.findall(
        r"^\d\. (.*?)\n\n   ```(python|sh)\n(.*?)^   ```",
        section.group(1), re.MULTILINE | re.DOTALL,
    )
    # The blocks are indented under their list item.
    return [
        (title, language, "\n".join(line[3:] for line in code.splitlines()) + "\n")
        for title, language, code in steps
    ]


def first_path(title: str) -> str:
    """The file a step of "Add a resource" writes: the first one it names."""
    match = re.search(r"`((?:app|tests)/[\w/]+\.py)`", title)
    if match is None:
        raise ReadmeError(f"README: no file named in step {title!r}")
    return match.group(1)
