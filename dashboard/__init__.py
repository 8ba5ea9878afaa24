"""The Streamlit dashboard: pages that select from the documented views through the worker."""
