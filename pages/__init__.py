"""The app's pages: short scripts Streamlit runs (`st.navigation` in ui/shell.py), each composing ui/ views.
A package only so that import-linter holds them to their layer; nothing imports them."""
