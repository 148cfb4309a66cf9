"""Entry point: `streamlit run app.py`. Builds the navigation and the shared sidebar, nothing else."""

from ui.shell import run_app

run_app()
