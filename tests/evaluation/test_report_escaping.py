"""report and compare: run names (folder names, chosen by whoever made the run) are text, not Markdown or HTML."""

import os
import re
import shutil
from urllib.parse import unquote

from fakelens.cli import main
from fakelens.utils.markdown import markdown_text

HOSTILE = "<img src=x onerror=alert(1)> | [click](https:__evil) #1 *b*"


def test_markdown_text_escapes_markup_and_keeps_the_text():
    assert markdown_text("a | b") == "a \\| b"
    assert markdown_text("<script>") == "&lt;script&gt;"
    assert markdown_text("[x](y)") == "\\[x\\]\\(y\\)"
    assert markdown_text("two\nlines") == "two lines"
    assert markdown_text("plain-name.v2") == "plain-name.v2"


def test_report_escapes_hostile_run_names_and_writes_only_in_out(trained_run, tmp_path, capsys):
    run, _ = trained_run
    hostile = tmp_path / "runs" / HOSTILE
    shutil.copytree(run, hostile)
    out = tmp_path / "rep"
    assert main(["report", str(hostile), str(run), "--out", str(out)]) == 0
    capsys.readouterr()
    assert sorted(os.listdir(tmp_path)) == ["rep", "runs"]
    for name in ("report.md", "leaderboard.md", "report.html"):
        text = (out / name).read_text()
        assert "<img src=x" not in text and "onerror=alert(1)>" not in text, name
    md = (out / "report.md").read_text()
    assert "### &lt;img src=x onerror=alert\\(1\\)&gt; \\| \\[click\\]\\(https:\\_\\_evil\\) \\#1 \\*b\\*" in md
    # every leaderboard row still has as many cells as the header: the name's "|" is escaped
    table = [line for line in (out / "leaderboard.md").read_text().splitlines() if line.startswith("|")]
    cells = [len(re.split(r"(?<!\\)\|", line)) for line in table]
    assert len(set(cells)) == 1, cells
    # the figure links open from the report folder
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) > 2 and all((out / unquote(link)).is_file() for link in links), links
    assert "&lt;img src=x onerror=alert(1)&gt;" in (out / "report.html").read_text()
