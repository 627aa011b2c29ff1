"""The HTML report and the leaderboards opened in a real browser (headless Chromium).

Each page is loaded from a file:// URL and checked through the Chrome DevTools Protocol: every
image decoded (naturalWidth > 0), no request other than file:, data: or about:, the tables hold
the rows they should, and at phone width (390 CSS px) the page is laid out at the device width
and nothing but a table's own scroll box is wider than the screen. Screenshots at desktop and
phone width are written to the test's tmp_path.

The browser (tests/browser.py, shared with the lab's browser tests) is driven over
`--remote-debugging-pipe` (NUL-separated JSON on file descriptors 3 and 4), so the test needs no
driver package and opens no port. Chromium comes from the system's packages
(`apt-get install chromium`); without it these tests fail, they do not skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser import DESKTOP, PHONE, Browser, Page, check_screenshot, launch
from genzoo.cli import main
from genzoo.tour import run_tour
from genzoo.training import checkpoint as ckpt
from genzoo.viz.board import HEADLINE
from genzoo.viz.report import flatten

LOCAL = ("file:", "data:", "about:")


# --- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with launch(tmp_path_factory.mktemp("chromium")) as b:
        yield b


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """A VAE run with its metrics and report (three checkpoints: three frames of samples over
    training), a tiny tour (its index.html) and a compare board."""
    root = tmp_path_factory.mktemp("pages")
    vae = root / "vae"
    fast = ["--quiet", "--set", "train.batch_size=64"]
    assert (
        main(
            [
                "train",
                "vae",
                "--data",
                "digits",
                "--steps",
                "30",
                "--out",
                str(vae),
                "--set",
                "model.latent_dim=4",
                "--set",
                "model.hidden=32",
                "--set",
                "data.binarize=dynamic",
                "--checkpoint-every",
                "10",
                *fast,
            ]
        )
        == 0
    )
    assert main(["evaluate", str(vae), "--n", "50"]) == 0
    assert main(["report", str(vae)]) == 0
    tour = run_tour(root / "tour", quick=True, only=["kde"], steps=5, eval_n=100, progress=False)
    kde = root / "tour" / "runs" / "kde-ring8"
    assert main(["compare", str(vae), str(kde), "--out", str(root / "board.html")]) == 0
    return {
        "report": vae / "report.html",
        "run": vae,
        "tour": tour,
        "board": root / "board.html",
        "board_runs": ["vae", "kde-ring8"],
    }


# --- checks shared by every page ----------------------------------------------------------------
IMAGES = (
    "[...document.images].map(i => ({src: i.src.slice(0, 40), alt: i.alt, complete: i.complete, "
    "w: i.naturalWidth, h: i.naturalHeight}))"
)

# elements sticking out to the right of the screen that are not inside a box that scrolls on its own
OVERFLOW = """(w => {
  const scrolls = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p).overflowX; if (s === 'auto' || s === 'scroll' || s === 'hidden') \
return true; } return false; };
  const wide = el => el.getBoundingClientRect().right > w + 1 && !scrolls(el);
  return [...document.body.querySelectorAll('*')].filter(el => \
wide(el) && ![...el.children].some(wide))  // the innermost
    .slice(0, 10).map(el => `${el.tagName.toLowerCase()} "${el.textContent.slice(0, 40)}" \
right=${Math.round(el.getBoundingClientRect().right)}`);
})"""


def too_wide(page: Page, width: int = PHONE["width"]) -> list[str]:
    return page.js(f"{OVERFLOW}({width})")


def check_page(browser: Browser, path: Path, shots: Path) -> Page:
    """Load `path`; images decoded, nothing fetched from the network, readable on a phone; screenshots."""
    page = browser.open(path, DESKTOP)
    images = page.js(IMAGES)
    assert images, f"{path.name}: no images"
    broken = [i for i in images if not (i["complete"] and i["w"] > 0 and i["h"] > 0)]
    assert not broken, f"{path.name}: images that did not load: {broken}"
    remote = [u for u in page.requests() if not u.startswith(LOCAL)]
    assert not remote, f"{path.name}: network requests {remote}"
    assert page.requests(), "the request log is empty: the page's own file:// load should be in it"
    assert page.js("document.documentElement.scrollWidth") <= DESKTOP["width"]
    check_screenshot(page.screenshot(shots / f"{path.stem}-desktop.png"), DESKTOP)

    page.resize(PHONE)
    assert (
        page.js("document.querySelector('meta[name=viewport]')?.content")
        == "width=device-width, initial-scale=1"
    )
    wide = too_wide(page)
    assert wide == [], f"{path.name}: wider than a {PHONE['width']} px phone: {wide}"
    # a page wider than the phone makes mobile Chromium zoom out: the layout viewport grows with it
    width, page_width = page.js("innerWidth"), page.js("document.documentElement.scrollWidth")
    assert width == PHONE["width"] and page_width <= width + 1, (
        f"{path.name}: laid out {page_width} px wide on a {PHONE['width']} px phone"
    )
    font = page.js("parseFloat(getComputedStyle(document.querySelector('td')).fontSize)")
    assert font >= 12, f"{path.name}: table text {font} px at phone width"
    check_screenshot(page.screenshot(shots / f"{path.stem}-phone.png"), PHONE)
    check_screenshot(page.screenshot(shots / f"{path.stem}-phone-full.png", full=True), PHONE)
    assert not [u for u in page.requests() if not u.startswith(LOCAL)]
    return page


def table_rows(page: Page, selector: str) -> list[list[str]]:
    return page.js(
        f"[...document.querySelectorAll({json.dumps(selector)})]"
        ".map(r => [...r.cells].map(c => c.textContent))"
    )


# --- the tests -----------------------------------------------------------------------------------
def test_the_harness_sees_broken_images_and_network_requests(browser, tmp_path):
    """The checks can fail: a remote image is both a request and an image that never loads."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><meta name="viewport" content="width=device-width">'
        '<img src="http://127.0.0.1:9/x.png"><div style="width:900px">wide</div>',
        encoding="utf-8",
    )
    page = browser.open(bad, PHONE)
    assert "http://127.0.0.1:9/x.png" in page.requests()
    assert page.js("[...document.images].every(i => i.complete && i.naturalWidth > 0)") is False
    # too wide for the phone: mobile Chromium zooms out to fit it, so the layout viewport grows too
    assert (
        page.js("document.documentElement.scrollWidth") > PHONE["width"]
        and page.js("innerWidth") > PHONE["width"]
    )
    assert too_wide(page)


def test_report_in_a_browser(browser, pages, tmp_path):
    page = check_page(browser, pages["report"], tmp_path)
    assert page.js("document.title") == "genzoo report: vae on digits"
    sections = page.js("[...document.querySelectorAll('section > h2')].map(h => h.textContent)")
    assert sections[:4] == ["Summary", "Configuration", "Training", "Samples"] and sections[-1] == "Metrics"
    assert "Latent space" in sections
    # the metrics table: one row per number in metrics.json, per-example lists left out
    doc = json.loads((pages["run"] / ckpt.METRICS).read_text())
    expected = [k for k, _ in flatten(doc["metrics"]) if k.split(".")[-1] not in ("closest", "counts")]
    metrics = page.js("""(() => { const t = [...document.querySelectorAll('table')].find(t => t.tHead && \
t.tHead.textContent === 'metricvalue');
        return t ? [...t.tBodies[0].rows].map(r => r.cells[0].textContent) : null; })()""")
    assert metrics == expected
    assert {"nll.nats", "kid.mean", "pr.precision", "recon.mse_per_dim"} <= set(metrics)
    summary = dict(r for r in table_rows(page, "section:first-of-type tbody tr"))
    assert summary["steps"] == "30" and summary["likelihood"] != "none"
    # pictures: samples, loss curves, reconstructions, interpolations, walks, memorisation, the
    # checkpoints' grids
    assert page.js("document.images.length") >= 7
    # samples over training: one frame per kept checkpoint, in step order, beside an animation of them
    assert sections[sections.index("Samples") + 1] == "Samples over training"
    frames = page.js(
        "[...document.querySelectorAll('figure.frame')]"
        ".map(f => [+f.dataset.step, f.querySelector('img').naturalWidth])"
    )
    assert (
        [step for step, _ in frames] == [step for step, _ in ckpt.read_frames(pages["run"])] == [10, 20, 30]
    )
    assert all(width > 0 for _, width in frames)
    gif = page.js(
        "[...document.images].filter(i => i.src.startsWith('data:image/gif')).map(i => i.naturalWidth)"
    )
    assert len(gif) == 1 and gif[0] > 0
    # the metrics by kind: a table per group, the memorisation's closest pairs drawn as a picture
    groups = page.js(
        "[...document.querySelectorAll('table.metrics')]"
        ".map(t => t.closest('div').previousElementSibling.textContent)"
    )
    assert (
        groups[:2] == ["Likelihood", "Sample quality — fidelity"]
        and "Memorisation" in groups
        and groups[-1] == "Timing"
    )
    picture = page.js(
        "document.querySelector('tr[data-key=\"memorization.closest_pairs_png\"] img')?.naturalWidth"
    )
    assert picture and picture > 0
    assert (
        page.js("document.querySelector('details.all').open") is False
    )  # every value of metrics.json: one click away


@pytest.mark.parametrize("which", ["tour", "board"])
def test_leaderboard_in_a_browser(browser, pages, tmp_path, which):
    page = check_page(browser, pages[which], tmp_path)
    order = page.js("[...document.querySelectorAll('section > h2')].map(h => h.textContent)")
    assert order[:3] == ["Gallery", "How to read this", "Leaderboard"]
    datasets = page.js("[...document.querySelectorAll('div.dataset')].map(d => d.dataset.dataset)")
    runs = {
        "tour": {"mnist": ["kde on mnist"], "ring8": ["kde on ring8"]},
        "board": {"digits": [pages["board_runs"][0]], "ring8": [pages["board_runs"][1]]},
    }[which]
    assert datasets == list(runs)
    if which == "tour":
        assert page.js("document.title") == "genzoo tour"
    for data, names in runs.items():
        block = f"div.dataset[data-dataset={json.dumps(data)}]"
        head = page.js(
            f"[...document.querySelectorAll('{block} table.headline thead th')].map(c => c.textContent)"
        )
        assert head[0] == "run" and head[-1] == "train s" and {"precision", "recall"} <= set(head)
        assert head[1:-1] == [
            c.header for c in HEADLINE if c.header in head
        ]  # the headline columns, in their order
        rows = table_rows(page, f"{block} table.headline tbody tr")
        assert [r[0] for r in rows] == names and all(len(r) == len(head) for r in rows)
        assert all(any(c not in ("", "—") for c in r[1:-1]) for r in rows), rows  # every run has scores
        # the other columns: present, collapsed (not laid out) until the summary is clicked
        more = f"{block} details.more"
        assert page.js(f"document.querySelector('{more}').open") is False
        assert page.js(f"document.querySelector('{more} table.more').checkVisibility()") is False
        page.js(f"document.querySelector('{more} summary').click()")
        assert page.js(f"document.querySelector('{more}').open") is True
        assert page.js(f"document.querySelector('{more} table.more').checkVisibility()") is True
        assert "copy rate" in page.js(f"document.querySelector('{more} table.more thead').textContent")
        # a table wider than a phone scrolls inside its own box
        assert (
            page.js(
                f"getComputedStyle(document.querySelector('{block} table.headline').parentElement).overflowX"
            )
            == "auto"
        )
    # the gallery, before the board: per dataset its held-out examples, then each run's samples, all decoded
    tiles = page.js("""[...document.querySelectorAll('#gallery .gallery-group')].map(g => [g.dataset.dataset,
        [...g.querySelectorAll('figure.tile')].map(t => \
[t.classList.contains('real') ? 'real data' : t.dataset.run,
                                                        t.querySelector('img')?.naturalWidth || 0])])""")
    assert [data for data, _ in tiles] == list(runs)
    for data, shown in tiles:
        assert [name for name, _ in shown] == ["real data", *runs[data]]
        assert all(width > 0 for _, width in shown), shown
    assert (
        page.js(
            "document.querySelector('#gallery').compareDocumentPosition(document.querySelector('#board')) & 4"
        )
        == 4
    )
    read = page.js("document.querySelector('#how-to-read').textContent")
    assert "two halves of the held-out data" in read and "copy rate" in read
