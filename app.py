"""Entry point: `streamlit run app.py`. Builds the navigation and the shared sidebar, nothing else."""

import streamlit as st

from ui.navigation import PAGES
from ui.sidebar import render_sidebar

st.set_page_config(page_title="CV explainer", page_icon=":material/visibility:", layout="wide")
page = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, default=i == 0) for i, p in enumerate(PAGES)])
render_sidebar()
page.run()
