"""Regenerates the PDF and DOCX files of the fixture corpus (run by hand; the output is committed)."""

from pathlib import Path

from docx import Document

HERE = Path(__file__).parent / "corpus" / "leaflets"


def write_pdf(path: Path, pages: list[list[str]]) -> None:
    """A minimal text PDF (Helvetica), enough for pypdf to extract its words."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_ref = 3 + 2 * len(pages)
    for index, lines in enumerate(pages):
        content = "BT /F1 11 Tf 72 720 Td 14 TL " + " ".join(
            f"({line}) Tj T*" for line in lines
        ) + " ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * index} 0 R "
            f"/Resources << /Font << /F1 {font_ref} 0 R >> >> >>".encode()
        )
        data = content.encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))


def write_docx(path: Path) -> None:
    document = Document()
    document.add_heading("Reading baby cues", level=0)
    document.add_heading("How can I tell a baby wants to play?", level=1)
    document.add_paragraph("A baby who wants to play has bright eyes and turns towards you.")
    document.add_heading("How can I tell a baby needs a break?", level=1)
    document.add_paragraph(
        "A baby who looks away, arches his back or starts to hiccup is asking for a quieter moment."
    )
    document.save(path)


if __name__ == "__main__":
    write_pdf(
        HERE / "health-visitors.pdf",
        [
            ["A health visitor checks how a baby is growing and developing.",
             "Foster carers can ask the health visitor about feeding and sleep."],
            ["Health reviews for children in care under five happen every six months."],
        ],
    )
    write_docx(HERE / "baby-cues.docx")
