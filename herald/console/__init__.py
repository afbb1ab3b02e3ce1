"""The operator console (DESIGN §13): a page in the browser at ``/console``.

It is static files of this package (HTML, CSS and JavaScript modules, no build step) that
sign in with an API key kept in the page's memory only and call the ``/v1`` API with it as a
bearer token, exactly as any client does: the API's scopes decide what it may see and do.
"""

from herald.console.serving import router

__all__ = ["router"]
