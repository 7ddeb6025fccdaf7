"""HTTP responses shared by the admin pages of several apps."""

import io

from django.http import FileResponse


def pdf_response(pdf: bytes, filename: str) -> FileResponse:
    """Return a PDF the browser shows in place (and saves under `filename`)."""
    response = FileResponse(
        io.BytesIO(pdf), content_type="application/pdf", filename=filename
    )
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
