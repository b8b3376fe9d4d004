"""Every match explains itself (`match`, `matched_path`, `*_distance`), and pairs a person marks
as distinct stay apart (`not_duplicates`): against brute-force references, planted copies of a
real photo, the `dups --explain` CLI and the HTML report."""

from __future__ import annotations

import shutil
from pathlib import Path

import imagehash
import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats.cli import main
from imgstats.commands.dups import DUPS_METRICS
from imgstats.duplicates import duplicates
from PIL import Image, ImageEnhance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
PHOTO = EXAMPLES / "train" / "scene_05.jpg"
OTHER = EXAMPLES / "train" / "scene_07.jpg"
KINDS = ("same_bytes", "same_pixels", "near")


def skewed(n: int, seed: int) -> np.ndarray:
    """Clusters of hashes a few bits apart (like copies), random elsewhere."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**63, size=n // 8, dtype=np.uint64) | np.uint64(1 << 63)
    h = centres[rng.integers(0, len(centres), n)]
    flips = np.uint64(1) << rng.integers(0, 63, size=(n, 4)).astype(np.uint64)
    keep = rng.random((n, 4)) < 0.6
    return h ^ np.bitwise_or.reduce(np.where(keep, flips, np.uint64(0)), axis=1)


def brute_links(h: np.ndarray, d: np.ndarray, content: list[str], k: int) -> list[tuple]:
    """Every link by brute force: (kind, phash bits, dhash bits, i, j)."""
    out = []
    n = len(h)
    for i in range(n):
        for j in range(i + 1, n):
            pd = int(np.bitwise_count(h[i] ^ h[j]))
            dd = int(np.bitwise_count(d[i] ^ d[j]))
            if content[i] == content[j]:
                out.append((0, pd, dd, i, j))
            if pd <= k:
                out.append((2, pd, dd, i, j))
    return out


def components(n: int, links: list[tuple]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for *_, i, j in links:
        a, b = find(i), find(j)
        parent[max(a, b)] = min(a, b)
    seen: dict[int, int] = {}
    return [seen.setdefault(find(i), len(seen)) for i in range(n)]


def test_explanations_match_brute_force() -> None:
    n, k = 400, 6
    h = skewed(n, 1)
    d = skewed(n, 1) ^ np.uint64(0x5A5A)  # a second, correlated hash
    # Some rows are byte-identical copies of an earlier row (so they share its hashes too).
    rng = np.random.default_rng(2)
    source = np.arange(n)
    copies = rng.choice(np.arange(1, n), 40, replace=False)
    source[copies] = rng.integers(0, copies)
    h, d = h[source], d[source]
    content = [f"c{s}" for s in source]
    paths = [f"img{i:03d}.jpg" for i in range(n)]
    df = pl.DataFrame({"path": paths, "phash": h, "dhash": d, "content_hash": content})
    got = duplicates(df, threshold=k, wide_threshold=k)  # pHash within k decides (the brute force)
    links = brute_links(h, d, content, k)
    labels = components(n, links)
    assert got["group_id"].to_list() == labels
    # Each row's explanation is one of its real links, of its strongest kind (same bytes
    # first): groups are built from a spanning forest of the near links, so the link shown is
    # one that connects the row, not necessarily its closest near copy.
    best: dict[int, int] = {}
    real: set[tuple] = set()
    for kind, pd, dd, i, j in links:
        for row, other in ((i, j), (j, i)):
            best[row] = min(best.get(row, kind), kind)
            real.add((row, KINDS[kind], paths[other], pd, dd))
    for row in range(n):
        r = got.row(row, named=True)
        if row not in best:
            assert r["group_size"] == 1 and r["match"] is None and r["matched_path"] is None
            continue
        shown = (row, r["match"], r["matched_path"], r["phash_distance"], r["dhash_distance"])
        assert shown in real and r["match"] == KINDS[best[row]], shown
    assert set(got["match"].drop_nulls()) == {"same_bytes", "near"}
    assert got["group_size"].max() < 20  # no chaining: the test sees many groups


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    im = Image.open(PHOTO).convert("RGB")
    im.save(d / "a.jpg", quality=92)
    shutil.copy(d / "a.jpg", d / "sub" / "a_copy.jpg")
    Image.open(d / "a.jpg").save(d / "a_lossless.png")  # same pixels, other container
    im.resize((320, 240), Image.LANCZOS).save(d / "a_small.jpg", quality=75)
    ImageEnhance.Brightness(im).enhance(1.15).save(d / "a_bright.png")
    Image.open(OTHER).convert("RGB").resize((800, 800)).save(d / "other.jpg")
    return d


def test_planted_copies_explain_themselves(photo_dir: Path) -> None:
    df = imgstats.scan(photo_dir, DUPS_METRICS)
    got = duplicates(df)
    by = {Path(r["path"]).name: r for r in got.iter_rows(named=True)}
    assert by["a_copy.jpg"]["match"] == "same_bytes"
    assert Path(by["a_copy.jpg"]["matched_path"]).name == "a.jpg"
    assert by["a_lossless.png"]["match"] == "same_pixels"
    assert Path(by["a_lossless.png"]["matched_path"]).name in {"a.jpg", "a_copy.jpg"}
    assert by["other.jpg"]["match"] is None and by["other.jpg"]["group_size"] == 1
    hashes = {Path(r["path"]).name: r for r in df.iter_rows(named=True)}
    for name in ("a_small.jpg", "a_bright.png"):
        r = by[name]
        assert r["match"] == "near"
        # The distances are those between this file's hashes and the matched file's.
        other = hashes[Path(r["matched_path"]).name]
        for col in ("phash", "dhash"):
            assert r[f"{col}_distance"] == (hashes[name][col] ^ other[col]).bit_count()
    # ... which are imagehash's on the PNG (decoded at full size, so the scan is exact there).
    bright = Image.open(photo_dir / "a_bright.png")
    assert hashes["a_bright.png"]["phash"] == int(str(imagehash.phash(bright)), 16)
    assert len({by[n]["group_id"] for n in by if n != "other.jpg"}) == 1
    assert {by[n]["representative"] for n in by if n != "other.jpg"} == {
        by["a.jpg"]["representative"]
    }


def test_cli_explain_and_report_show_the_reason(
    photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dups", str(photo_dir), "--explain"]) == 0
    out = capsys.readouterr().out
    assert out.count("group ") == 1 and "5 images" in out
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(lines) == 5
    assert sum(line.split()[0] == "drop" for line in lines) == 4
    copy = next(line for line in lines if "a_copy.jpg  same_bytes" in line)
    assert "a.jpg" in copy.split("same_bytes to ")[1]
    assert any(" near to " in line and "(phash " in line and "dhash " in line for line in lines)

    df = imgstats.scan(photo_dir, DUPS_METRICS)
    page = tmp_path / "report.html"
    imgstats.report(df, page, duplicates=duplicates(df))
    html = page.read_text()
    assert "same bytes a.jpg" in html and "same pixels" in html
    assert "near a" in html and "phash " in html and "dhash " in html


# ---- not_duplicates -------------------------------------------------------------------------


def chain_frame() -> pl.DataFrame:
    """A–C–B chain: A and B are 4 bits apart... through C, which is 1 bit from A, 3 from B;
    D is a byte-identical copy of B; E is unrelated."""
    a = 0xF0F0F0F0F0F0F0F0
    return pl.DataFrame(
        {
            "path": ["A", "B", "C", "D", "E"],
            "phash": pl.Series(
                [a, a ^ 0b1111, a ^ 0b1, a ^ 0b1111, 0x0123456789ABCDEF], dtype=pl.UInt64
            ),
            "content_hash": ["1", "2", "3", "2", "5"],
        }
    )


def groups_of(got: pl.DataFrame) -> list[set[str]]:
    parts = got.group_by("group_id", maintain_order=True).agg("path")["path"].to_list()
    return [set(p) for p in parts]


def test_marked_pair_is_cut_with_the_chain(tmp_path: Path) -> None:
    df = chain_frame()
    assert groups_of(duplicates(df, threshold=4)) == [{"A", "B", "C", "D"}, {"E"}]
    # A–B marked: the direct link goes, and so does the chain through C. C stays with A (1 bit)
    # rather than B (3 bits); D stays with B (same bytes).
    cut = duplicates(df, threshold=4, not_duplicates=[("A", "B")])
    assert groups_of(cut) == [{"A", "C"}, {"B", "D"}, {"E"}]
    row_c = cut.row(2, named=True)
    assert (row_c["match"], row_c["matched_path"], row_c["phash_distance"]) == ("near", "A", 1)
    # The same marks as a CSV (with or without a header) or a frame; order inside a pair and
    # unknown paths do not matter.
    csv = tmp_path / "distinct.csv"
    csv.write_text("first,second\nB,A\nnot/in/scan.jpg,A\n")
    assert groups_of(duplicates(df, threshold=4, not_duplicates=csv)) == groups_of(cut)
    csv.write_text("B,A\n")
    assert groups_of(duplicates(df, threshold=4, not_duplicates=str(csv))) == groups_of(cut)
    marks = pl.DataFrame({"x": ["A"], "y": ["B"]})
    assert groups_of(duplicates(df, threshold=4, not_duplicates=marks)) == groups_of(cut)
    # Marking even a byte-identical pair keeps it apart.
    assert groups_of(duplicates(df, threshold=4, not_duplicates=[("B", "D")])) == [
        {"A", "B", "C"},
        {"D"},
        {"E"},
    ]
    with pytest.raises(FileNotFoundError):
        duplicates(df, not_duplicates=tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="pairs"):
        duplicates(df, not_duplicates=[("A", "B", "C")])  # type: ignore[list-item]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_marks_hold_on_random_chains(seed: int) -> None:
    n, k = 600, 6
    h = skewed(n, seed)
    paths = [f"p{i}" for i in range(n)]
    df = pl.DataFrame({"path": paths, "phash": h})
    free = duplicates(df, threshold=k)["group_id"].to_numpy()
    rng = np.random.default_rng(seed)
    # Mark pairs inside big groups (those are the ones a chain could join).
    sizes = np.bincount(free)
    big = np.flatnonzero(sizes >= 4)
    marks = []
    for g in big[:15]:
        members = np.flatnonzero(free == g)
        x, y = rng.choice(members, 2, replace=False)
        marks.append((paths[x], paths[y]))
    got = duplicates(df, threshold=k, not_duplicates=marks)
    lab = got["group_id"].to_numpy()
    idx = {p: i for i, p in enumerate(paths)}
    for x, y in marks:
        assert lab[idx[x]] != lab[idx[y]]
    # Only the marked groups change; each new group lies inside one old group and is connected
    # by links of the rule (checked by brute force).
    touched = {free[idx[x]] for x, _ in marks}
    for g in range(free.max() + 1):
        members = np.flatnonzero(free == g)
        new = set(lab[members].tolist())
        if g not in touched:
            assert len(new) == 1 and (lab == lab[members[0]]).sum() == len(members)
            continue
        for label in new:
            part = np.flatnonzero(lab == label)
            assert set(part) <= set(members)
            sub_links = [
                (0, 0, 0, i, j)
                for i in range(len(part))
                for j in range(i + 1, len(part))
                if np.bitwise_count(h[part[i]] ^ h[part[j]]) <= k
            ]
            assert len(set(components(len(part), sub_links))) == 1


def test_label_disagreement_flags_groups_labelled_two_ways() -> None:
    df = chain_frame().with_columns(
        pl.Series("label", ["cat", "dog", None, "dog", "cat"]),
        pl.Series("same", ["x", "x", "x", None, "y"]),
    )
    got = duplicates(df, threshold=4, label="label")
    # A, B, C, D are one group holding cat and dog (C unlabelled); E is alone.
    assert got["label_disagreement"].to_list() == [True, True, True, True, False]
    assert not duplicates(df, threshold=4, label="same")["label_disagreement"].any()
    cut = duplicates(df, threshold=4, label="label", not_duplicates=[("A", "B")])
    # {A, C}: cat + unlabelled agree; {B, D}: dog + dog agree.
    assert not cut["label_disagreement"].any()
    with pytest.raises(ValueError, match="no such column"):
        duplicates(df, label="nope")


def test_cli_not_duplicates_file(photo_dir: Path, tmp_path: Path) -> None:
    marks = tmp_path / "distinct.csv"
    marks.write_text(f"path_a,path_b\n{photo_dir / 'a_small.jpg'},{photo_dir / 'a.jpg'}\n")
    table = tmp_path / "groups.csv"
    assert main(["dups", str(photo_dir), "-o", str(table), "--not-duplicates", str(marks)]) == 0
    t = {Path(r["path"]).name: r for r in pl.read_csv(table).iter_rows(named=True)}
    assert t["a_small.jpg"]["group_id"] != t["a.jpg"]["group_id"]
    assert t["a_copy.jpg"]["group_id"] == t["a.jpg"]["group_id"]
    assert main(["dups", str(photo_dir), "-o", str(table)]) == 0
    t = {Path(r["path"]).name: r for r in pl.read_csv(table).iter_rows(named=True)}
    assert t["a_small.jpg"]["group_id"] == t["a.jpg"]["group_id"]


def test_explain_names_a_grayscale_copy() -> None:
    """A near link past the colour radius passed the colour check as a grayscale copy; the
    explanation says so, and a link within the radius does not claim it."""
    import io

    from imgstats.commands.dups import explain

    groups = pl.DataFrame(
        {
            "path": ["a.jpg", "a_gray.jpg", "a_small.jpg"],
            "group_id": [0, 0, 0],
            "group_size": [3, 3, 3],
            "representative": ["a.jpg"] * 3,
            "match": ["near", "near", "near"],
            "matched_path": ["a_gray.jpg", "a.jpg", "a.jpg"],
            "phash_distance": [0, 0, 2],
            "dhash_distance": [2, 2, 3],
            "color_distance": [13, 13, 1],
        }
    )
    out = io.StringIO()
    explain(groups, ["a_gray.jpg", "a_small.jpg"], out, color_threshold=6)
    lines = out.getvalue().splitlines()
    assert (
        lines[1] == "  keep  a.jpg  near to a_gray.jpg (phash 0, dhash 2, color 13, grayscale copy)"
    )
    assert lines[3] == "  drop  a_small.jpg  near to a.jpg (phash 2, dhash 3, color 1)"
