#!/usr/bin/env python3
"""Drives the dashboard in headless Chromium (Debian's chromium and chromium-driver, PyPI's selenium).

usage: dashboard-browser.py URL TOKEN NEW_REVISION SCREENSHOT_DIR

Signs in with TOKEN, checks the apps table renders every app with its status badges, prints
RENDERED, then waits (without reloading) for the row of app `web` to show NEW_REVISION — the
test publishes that sync event once it reads RENDERED. Saves screenshots, opens the app page, and
checks that the Sync button answers "Not allowed" for a read-only token. Prints OK at the end;
any failure prints FAILED: reason and exits 1.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait

url, token, new_revision, screenshots = sys.argv[1:5]
options = Options()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 30)


def say(line):
    print(line, flush=True)


try:
    started = time.monotonic()
    driver.get(url)
    wait.until(conditions.presence_of_element_located((By.ID, "token"))).send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(conditions.presence_of_element_located((By.ID, "app-web")))
    say("ROWS " + driver.execute_script("return [...document.querySelectorAll('#apps tr')].map((r) => r.dataset.app).join(',');"))
    say("WEB " + driver.execute_script("return document.querySelector('#app-web .sync').innerText + ' ' + document.querySelector('#app-web .revision').innerText;"))
    say("RENDER_MS %d" % ((time.monotonic() - started) * 1000))
    # A marker that a reload would lose: the update must arrive in this page.
    driver.execute_script("window.__tributaryMarker = 'kept';")
    say("RENDERED")
    # Read through the DOM each time: the live update replaces the row (a held element goes stale).
    revision = lambda d: d.execute_script("const cell = document.querySelector('#app-web .revision'); return cell ? cell.textContent : '';")
    wait.until(lambda d: new_revision[:12] in revision(d))
    marker = driver.execute_script("return window.__tributaryMarker || 'lost';")
    say("LIVE " + revision(driver) + " marker=" + marker)
    driver.save_screenshot(os.path.join(screenshots, "dashboard-apps.png"))

    driver.get(url + "#/apps/web")
    # The page may be drawn again while this runs (a sync event for the app redraws it): click and
    # read through the DOM, clicking again until the answer shows.
    def refused(d):
        text = d.execute_script("const r = document.getElementById('result'); return r ? r.textContent : '';")
        if "Not allowed" in text:
            return text
        d.execute_script("const b = document.getElementById('sync'); if (b) b.click();")
        return False
    say("SYNC " + WebDriverWait(driver, 30, poll_frequency=0.3).until(refused))
    driver.save_screenshot(os.path.join(screenshots, "dashboard-app.png"))

    driver.set_window_size(390, 844)  # a phone
    driver.get(url + "#/")
    wait.until(conditions.presence_of_element_located((By.ID, "app-web")))
    width = driver.execute_script("return document.documentElement.scrollWidth;")
    say("PHONE_WIDTH %d" % width)
    driver.save_screenshot(os.path.join(screenshots, "dashboard-phone.png"))
    say("OK")
except Exception as error:  # noqa: BLE001 - report whatever broke, with the page as it was
    say("FAILED: %s: %s" % (type(error).__name__, error))
    try:
        driver.save_screenshot(os.path.join(screenshots, "dashboard-failure.png"))
        say("PAGE " + driver.find_element(By.TAG_NAME, "body").text[:2000].replace("\n", " | "))
    except Exception:  # noqa: BLE001
        pass
    sys.exit(1)
finally:
    driver.quit()
