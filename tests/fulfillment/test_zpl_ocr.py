"""ZPL labels read back whole: each label is rendered to an image on this
machine (zpl-renderer-js, Zebrash in WebAssembly, pinned in
tests/support/zpl_render; no label service is called), read with tesseract,
and every word of every ship-to line is found whole, in order.

OCR is fuzzy: case, whitespace and the spacing around dashes are
normalised, and a word may have one misread letter per 15 — but it must
have every letter: a word cut at the label's edge is not found.
"""

import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from fulfillment.models import Shipment
from fulfillment.postage.labels import shipping_labels_zpl
from orders.models import Order
from tests.factories import ProductFactory
from tests.support.addresses import address_at_maximum, printed_lines

RENDERER = Path(__file__).parents[1] / "support" / "zpl_render"
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015"


def _unavailable(message: str) -> None:
    # CI installs the renderer and tesseract (scripts/check_system.sh).
    if os.environ.get("OMS_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def read_labels():
    """Return a function from a ZPL document to the text OCR reads on each
    of its labels."""
    node = shutil.which("node")
    if not node or not (RENDERER / "node_modules" / "zpl-renderer-js").is_dir():
        _unavailable(
            "zpl-renderer-js is not installed: `make system` (scripts/"
            "check_system.sh) installs it with npm into tests/support/zpl_render"
        )
    tesseract = shutil.which("tesseract")
    if (
        not tesseract
        or "deu"
        not in subprocess.run(
            [tesseract, "--list-langs"], capture_output=True, text=True, check=False
        ).stdout.split()
    ):
        _unavailable(
            "tesseract with its German data is not installed (Debian's "
            "tesseract-ocr and tesseract-ocr-deu; `make system` installs them)"
        )

    def read(document: str, folder: Path) -> list[str]:
        subprocess.run(
            [node, str(RENDERER / "render.cjs"), str(folder)],
            input=document.encode(),
            check=True,
            timeout=120,
        )
        texts = []
        for png in sorted(folder.glob("label-*.png")):
            # Twice the printer's 203 dpi: tesseract reads 2.5 mm text best so.
            image = Image.open(png).convert("L")
            image.resize((image.width * 2, image.height * 2), Image.LANCZOS).save(png)
            texts.append(
                subprocess.run(
                    [tesseract, str(png), "-", "-l", "deu+eng", "--psm", "4"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=120,
                ).stdout
            )
        return texts

    return read


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(rf"\s*[{DASHES}]\s*", "-", text)
    return text.split()


def same_word(printed: str, read: str) -> bool:
    """Say whether OCR read `printed` whole: every letter there, at most one
    in 15 misread."""
    if len(printed) != len(read):
        return False
    misread = sum(a != b for a, b in zip(printed, read, strict=True))
    return misread <= len(printed) // 15


def found_whole(line: str, read: list[str]) -> bool:
    """Say whether the words of `line` are read in a row (a wrapped line
    goes on at the start of the next)."""
    expected = words(line)
    return any(
        all(same_word(word, read[start + n]) for n, word in enumerate(expected))
        for start in range(len(read) - len(expected) + 1)
    )


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["latin", "german", "uk"])
def test_longest_address_reads_back_whole_from_the_rendered_zpl(
    shipped, read_labels, tmp_path, kind
):
    order = shipped([(ProductFactory(), 1)])
    Order.objects.filter(pk=order.pk).update(**address_at_maximum(kind))
    order.refresh_from_db()
    shipment = Shipment.objects.get(order=order)

    document, _ = shipping_labels_zpl([shipment.pk])
    (text,) = read_labels(document, tmp_path)

    read = words(text)
    missing = [line for line in printed_lines(order) if not found_whole(line, read)]
    assert not missing, f"Not read whole: {missing}\nOCR read:\n{text}"
    assert shipment.number in text
