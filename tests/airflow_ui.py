"""Airflow's UI as a newcomer uses it, in headless Chromium: log in, trigger from the Params form,
read a task's log. Run as a script (the tests call it in a subprocess: Playwright's sync API keeps
an event loop in the process that ``dag.test`` would then refuse to run in).

``python tests/airflow_ui.py trigger URL USER PASSWORD DAG_ID FIELDS_JSON``: opens the DAG, Trigger,
fills each ``{param: value}`` into its form field, submits; prints ``triggered``.
``python tests/airflow_ui.py log URL USER PASSWORD DAG_ID RUN_ID TASK_ID TEXT``: opens the task's
page and prints the log lines that contain TEXT, once they are shown.
"""

from __future__ import annotations

import json
import re
import sys
from urllib.parse import quote

from chromium import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Page, sync_playwright

# Airflow's UI renders in the browser after a few API calls; a loaded machine needs some seconds.
TIMEOUT_MS = 30_000


def _login(page: Page, url: str, user: str, password: str, dag_id: str) -> None:
    page.goto(f"{url}/dags/{dag_id}")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button").filter(has_text=re.compile("sign in|log ?in", re.I)).click()
    page.wait_for_url(re.compile(rf"/dags/{dag_id}"))


def trigger(page: Page, dag_id: str, fields: dict[str, str]) -> None:
    page.get_by_role("button", name="Trigger").first.click()
    form = page.get_by_role("dialog")
    for name, value in fields.items():
        form.locator(f"#element_{name}").fill(value)
    submit = form.get_by_role("button", name="Trigger")
    if not submit.is_enabled():
        raise SystemExit(f"the {dag_id} form's Trigger button is disabled: {form.inner_text()}")
    submit.click()
    form.wait_for(state="hidden")


def log_lines(page: Page, url: str, dag_id: str, run_id: str, task_id: str, text: str) -> list[str]:
    page.goto(f"{url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}?try_number=1")
    page.get_by_text(text).first.wait_for()
    return [line for line in page.inner_text("body").splitlines() if text in line]


def main(argv: list[str]) -> None:
    action, url, user, password, dag_id, *rest = argv
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        _login(page, url, user, password, dag_id)
        if action == "trigger":
            trigger(page, dag_id, json.loads(rest[0]))
            print("triggered")
        else:
            print("\n".join(log_lines(page, url, dag_id, *rest)))
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
