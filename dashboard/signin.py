"""The dashboard's door: when `dashboard_password` is set, nothing is shown (and nothing is
queried) until the visitor gives it. The dashboard holds the worker's query token on the
server side, so this password is what stands between a visitor and the store
(docs/security.md)."""

from __future__ import annotations

import hmac
import time

import streamlit as st

from flowcore.settings import Settings

SIGNED_IN = "flowmeter_signed_in"
WRONG_PASSWORD_DELAY = 1.0  # seconds: slows guessing from one browser session


def require_sign_in(conf: Settings) -> None:
    """Return when the visitor may see the dashboard; otherwise draw the sign-in and stop."""
    if conf.dashboard_password is None or st.session_state.get(SIGNED_IN):
        return
    expected = conf.dashboard_password.get_secret_value().encode()
    st.title("flowmeter")
    with st.form("sign_in"):
        given = st.text_input("Password", type="password", key="sign_in_password")
        if st.form_submit_button("Sign in", type="primary"):
            if hmac.compare_digest(given.encode("utf-8", "replace"), expected):
                st.session_state[SIGNED_IN] = True
                st.rerun()
            time.sleep(WRONG_PASSWORD_DELAY)
            st.error("That is not this dashboard's password (FLOWMETER_DASHBOARD_PASSWORD).")
    st.stop()
