"""The admin API under `/admin/`: a FastAPI sub-application, OpenAPI-documented."""
