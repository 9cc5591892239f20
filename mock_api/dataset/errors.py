"""`MockError`: the one exception the dataset raises for a bad request."""

from __future__ import annotations


class MockError(Exception):
    """A Stripe-shaped client error; the app turns it into `{"error": {...}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type

    def body(self) -> dict:
        error: dict = {"type": self.error_type, "code": self.code, "message": self.message}
        error["param"] = self.param
        return {"error": error}
