"""The Streamlit annotation page; ``evaltool annotate`` serves ``app.py`` from here."""
