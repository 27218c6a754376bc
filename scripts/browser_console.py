"""The web console's flows in headless Chromium (run by scripts/browser-console.sh).

Starts the release binary on a loopback port with a fresh data dir, then drives the
console at /console/ as a person would: log in, create a bucket, upload a 30 MiB file
(multipart, progress shown), see it listed, download it byte-exact, create a folder,
delete, enable versioning and restore an old version, create a user and a key and log
in as that user, see the admin views refused for that user, and save a policy with a
syntax error and see the server's message. Each flow that fails saves a screenshot.
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import boto3
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ACCESS = "CONSOLEROOTKEY000001"
SECRET = "console-root-secret-for-browser-tests-01"
SHOTS = os.environ.get("SHOTS", ".")
WAIT = 30

work = tempfile.mkdtemp(prefix="ferrite-console-")
downloads = os.path.join(work, "downloads")
os.makedirs(downloads)
env = dict(os.environ, FERRITE_ROOT_ACCESS_KEY=ACCESS, FERRITE_ROOT_SECRET_KEY=SECRET)
server = subprocess.Popen(
    [os.environ["FERRITE_BIN"], "serve", "--listen", "127.0.0.1:0", "--data-dir", os.path.join(work, "data")],
    stdout=subprocess.PIPE, stderr=open(os.path.join(work, "ferrite.err"), "w"), env=env, text=True)
line = server.stdout.readline()
m = re.match(r"listening on (\S+)", line)
if not m:
    print("FAIL browser-console: the server did not start:", line)
    sys.exit(1)
base = "http://" + m.group(1)
s3 = boto3.client("s3", endpoint_url=base, region_name="us-east-1",
                  aws_access_key_id=ACCESS, aws_secret_access_key=SECRET)

opts = webdriver.ChromeOptions()
opts.binary_location = shutil.which("chromium")
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,800", "--user-data-dir=" + os.path.join(work, "chrome")]:
    opts.add_argument(a)
opts.add_experimental_option("prefs", {
    "download.default_directory": downloads,
    "download.prompt_for_download": False,
    "safebrowsing.enabled": False,
})
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opts)
driver.set_page_load_timeout(WAIT)
wait = WebDriverWait(driver, WAIT)


def find(css):
    return wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def visible(css):
    return wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def click(css):
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()


def text_in(css, text):
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def typed(css, value):
    el = visible(css)
    el.clear()
    el.send_keys(value)
    return el


def go(hash_):
    driver.get(base + "/console/" + hash_)


def forget_session():
    # Every cookie, whatever its path (the session's is /admin/v1/).
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})


def login(ident, secret, password=False):
    forget_session()
    driver.get(base + "/console/")
    visible("#login-form")
    if password:
        click("#login-mode")
    typed("#login-id", ident)
    typed("#login-secret", secret)
    click("#login-submit")
    visible("#who-name")


def logout():
    click("#logout")
    visible("#login-form")


def accept_confirm():
    wait.until(EC.alert_is_present()).accept()


def wait_download(name, timeout=120):
    path = os.path.join(downloads, name)
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and not os.path.exists(path + ".crdownload"):
            return path
        time.sleep(0.2)
    raise AssertionError("no download " + name + " in " + str(os.listdir(downloads)))


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- the flows ----

def t_page_headers():
    import urllib.request
    with urllib.request.urlopen(base + "/console/") as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
        assert r.headers["Cache-Control"] == "no-store"
        page = r.read().decode()
    js = re.search(r'src="(/console/assets/app\.[0-9a-f]+\.js)"', page).group(1)
    with urllib.request.urlopen(base + js) as r:
        assert "immutable" in r.headers["Cache-Control"]


def t_login_refused():
    forget_session()
    driver.get(base + "/console/")
    typed("#login-id", ACCESS)
    typed("#login-secret", "not the secret")
    click("#login-submit")
    text_in("#login-error", "not right")
    # The whole jar: the session cookie's path (/admin/v1/) hides it from get_cookies.
    jar = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    assert all(c["name"] != "ferrite_session" for c in jar), jar


def t_login():
    login(ACCESS, SECRET)
    # The cookie's path is /admin/v1/: read it from the browser's whole jar.
    jar = driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    cookie = next((c for c in jar if c["name"] == "ferrite_session"), None)
    assert cookie and cookie["path"] == "/admin/v1/" and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    # The secret is nowhere in the browser's storage.
    stored = driver.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
    assert SECRET not in stored and "ferrite_session" not in stored, stored


def t_create_bucket():
    go("#/buckets")
    typed("#new-bucket", "photos")
    click("#create-bucket button[type=submit]")
    find("#buckets a[href='#/b/photos/']")
    assert any(b["Name"] == "photos" for b in s3.list_buckets()["Buckets"])


def t_upload_30mib():
    data = os.urandom(30 * 1024 * 1024)
    path = os.path.join(work, "big.bin")
    with open(path, "wb") as f:
        f.write(data)
    go("#/b/photos/")
    find("#upload-files").send_keys(path)
    bar = find("#uploads .upload[data-key='big.bin'] progress")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#uploads .upload-done") or
               d.find_elements(By.CSS_SELECTOR, "#uploads .upload-failed"))
    assert driver.find_elements(By.CSS_SELECTOR, "#uploads .upload-done"), driver.find_element(By.ID, "uploads").text
    assert int(bar.get_attribute("max")) == len(data) and int(bar.get_attribute("value")) == len(data)
    find("#objects tr.object[data-key='big.bin']")
    head = s3.head_object(Bucket="photos", Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-4"'), head["ETag"]  # 30 MiB in 8 MiB parts: multipart


def t_cancel_upload():
    # A large upload cancelled as soon as it starts: nothing stored, its multipart
    # upload aborted.
    path = os.path.join(work, "huge.bin")
    with open(path, "wb") as f:
        for _ in range(25):
            f.write(os.urandom(8 * 1024 * 1024))
    go("#/b/photos/")
    find("#upload-files").send_keys(path)
    row = "#uploads .upload[data-key='huge.bin']"
    find(row + " button").click()
    text_in(row, "cancelled")
    time.sleep(1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="photos").get("Contents", [])]
    assert "huge.bin" not in keys, keys
    uploads = s3.list_multipart_uploads(Bucket="photos").get("Uploads", [])
    assert not uploads, uploads
    os.remove(path)


def t_download():
    go("#/b/photos/")
    find("#objects tr.object[data-key='big.bin'] button.download").click()
    got = wait_download("big.bin")
    assert sha(got) == sha(os.path.join(work, "big.bin"))


def t_folder_and_delete():
    go("#/b/photos/")
    typed("#folder-name", "holidays")
    click("#create-folder button")
    click("#objects tr.folder a")
    wait.until(lambda d: "holidays" in d.current_url)
    small = os.path.join(work, "note.txt")
    with open(small, "w") as f:
        f.write("a note")
    find("#upload-files").send_keys(small)
    find("#objects tr.object[data-key='holidays/note.txt']")
    find("#objects tr.object[data-key='holidays/note.txt'] button.delete").click()
    accept_confirm()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#objects tr.object[data-key='holidays/note.txt']"))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="photos").get("Contents", [])]
    assert "holidays/" in keys and "holidays/note.txt" not in keys, keys


def t_versions_restore():
    go("#/settings/photos")
    click("#versioning-enable")
    text_in("#versioning-status", "Enabled")
    s3.put_object(Bucket="photos", Key="doc.txt", Body=b"first draft")
    s3.put_object(Bucket="photos", Key="doc.txt", Body=b"second draft")
    go("#/o/photos/doc.txt")
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#versions tr.version") if len(
        d.find_elements(By.CSS_SELECTOR, "#versions tr.version")) == 2 else False)
    rows[1].find_element(By.CSS_SELECTOR, "button.restore").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#versions tr.version")) == 3)
    assert s3.get_object(Bucket="photos", Key="doc.txt")["Body"].read() == b"first draft"


def t_share_link():
    import urllib.request
    go("#/o/photos/doc.txt")
    Select(find("#share-expiry")).select_by_value("900")
    click("#share-make")
    wait.until(lambda d: d.find_element(By.ID, "share-link").get_attribute("value").startswith("http"))
    url = driver.find_element(By.ID, "share-link").get_attribute("value")
    text_in("#share-note", "works until")
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"first draft"
        assert r.headers["Content-Security-Policy"] == "sandbox"
    assert "X-Amz-Expires=900&" in url, url


def t_drop_upload():
    # A drop of a file onto the drop zone (the DataTransfer a browser gives a drop).
    go("#/b/photos/")
    find("#drop")
    driver.execute_script("""
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped by the test"], "dropped.txt", { type: "text/plain" }));
        const zone = document.getElementById("drop");
        zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    """)
    find("#uploads .upload[data-key='dropped.txt'] .upload-done")
    assert s3.get_object(Bucket="photos", Key="dropped.txt")["Body"].read() == b"dropped by the test"


def t_paging():
    s3.create_bucket(Bucket="many")
    for i in range(1005):
        s3.put_object(Bucket="many", Key="k%04d" % i, Body=b"")
    go("#/b/many/")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#objects tr.object")) == 1000)
    click("#next-page")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#objects tr.object")) == 5)
    keys = [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "#objects tr.object")]
    assert keys == ["k%04d" % i for i in range(1000, 1005)], keys
    click("#prev-page")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#objects tr.object")) == 1000)
    typed("#search", "k099")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#objects tr.object")) == 10)
    keys = [r.get_attribute("data-key") for r in driver.find_elements(By.CSS_SELECTOR, "#objects tr.object")]
    assert keys == ["k%04d" % i for i in range(990, 1000)], keys


def t_object_edits():
    go("#/o/photos/doc.txt")
    click("#add-tag")
    typed("#tag-rows .tag:last-child .tag-key", "project")
    typed("#tag-rows .tag:last-child .tag-value", "apollo")
    click("#save-tags")
    find("#tags-saved")
    tags = s3.get_object_tagging(Bucket="photos", Key="doc.txt")["TagSet"]
    assert tags == [{"Key": "project", "Value": "apollo"}], tags
    click("#add-meta")
    typed("#meta-rows .meta:last-child .meta-key", "owner")
    typed("#meta-rows .meta:last-child .meta-value", "alice")
    typed("#meta-content-type", "text/markdown")
    click("#save-meta")
    wait.until(lambda d: s3.head_object(Bucket="photos", Key="doc.txt").get("Metadata") == {"owner": "alice"})
    head = s3.head_object(Bucket="photos", Key="doc.txt")
    assert head["ContentType"] == "text/markdown", head
    assert s3.get_object(Bucket="photos", Key="doc.txt")["Body"].read() == b"first draft"


def t_lock_bucket():
    go("#/buckets")
    typed("#new-bucket", "vault")
    find("#new-bucket-lock").click()
    click("#create-bucket button[type=submit]")
    find("#buckets a[href='#/b/vault/']")
    s3.put_object(Bucket="vault", Key="record.txt", Body=b"keep me")
    go("#/o/vault/record.txt")
    until = find("#retention-until")
    driver.execute_script("arguments[0].value = '2031-01-01T00:00'", until)
    Select(find("#retention-mode")).select_by_value("GOVERNANCE")
    click("#set-retention")
    text_in("#lock-saved", "Retention set")
    r = s3.get_object_retention(Bucket="vault", Key="record.txt")["Retention"]
    assert r["Mode"] == "GOVERNANCE" and r["RetainUntilDate"].year == 2031, r
    find("#legal-hold").click()
    click("#save-legal-hold")
    text_in("#lock-saved", "Legal hold saved")
    assert s3.get_object_legal_hold(Bucket="vault", Key="record.txt")["LegalHold"]["Status"] == "ON"


def t_user_login_and_refusals():
    go("#/users")
    typed("#new-user", "alice")
    click("#create-user button")
    click("#create-key")
    key_id = visible("#new-key-id").text
    secret = visible("#new-key-secret").text
    assert key_id and len(secret) == 40
    typed("#new-password", "correct horse battery")
    click("#set-password")
    text_in("#password-box", "Set ")
    logout()
    login(key_id, secret)
    names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#nav a")]
    assert names == ["Buckets"], names
    for view in ["#/users", "#/policies", "#/kms", "#/sessions", "#/server", "#/monitor"]:
        go(view)
        text_in("main .error", "not allowed")
    logout()
    login("alice", "correct horse battery", password=True)
    assert find("#who-name").text.startswith("alice")
    logout()


def t_policy_syntax_error():
    login(ACCESS, SECRET)
    go("#/policies")
    typed("#policy-name", "broken")
    area = visible("#policy-document")
    area.clear()
    area.send_keys('{"Version": "2012-10-17", "Statement": [')
    click("#policy-save")
    text_in("#policy-message .error", "not valid")
    assert "MalformedPolicyDocument" in driver.find_element(By.CSS_SELECTOR, "#policy-message").get_attribute("textContent")


def t_simulate():
    go("#/policies")
    typed("#sim-user", "alice")
    typed("#sim-action", "s3:GetObject")
    typed("#sim-resource", "arn:aws:s3:::photos/doc.txt")
    click("#simulate button")
    text_in("#sim-decision", "Denied")
    # Attach readonly to alice through the user view, then simulate again.
    go("#/users/alice")
    Select(find("#attach-policy")).select_by_value("readonly")
    click("#attach")
    find("#attached li")
    go("#/policies")
    typed("#sim-user", "alice")
    typed("#sim-resource", "arn:aws:s3:::photos/doc.txt")
    click("#simulate button")
    text_in("#sim-decision", "Allowed")
    text_in("#sim-result", "managed policy readonly")


def t_sessions_revoke():
    go("#/sessions")
    find("#sessions tbody tr")
    assert "(this session)" in driver.find_element(By.ID, "sessions").text


def t_monitoring():
    go("#/monitor")
    find("#chart-requests svg polyline")
    find("#chart-latency")
    text_in("#ops", "PutObject")
    text_in("#bucket-usage", "photos")


def t_keyboard():
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    keys = lambda *k: ActionChains(driver).send_keys(*k).perform()
    forget_session()
    driver.get(base + "/console/")
    visible("#login-form")
    # The login form takes the focus; Tab moves on; Enter logs in.
    wait.until(lambda d: d.switch_to.active_element.get_attribute("id") == "login-id")
    keys(ACCESS, Keys.TAB, SECRET, Keys.ENTER)
    visible("#who-name")
    go("#/buckets")
    find("#buckets a[href='#/b/photos/']")
    for _ in range(80):
        href = driver.switch_to.active_element.get_attribute("href") or ""
        if href.endswith("#/b/photos/"):
            break
        keys(Keys.TAB)
    else:
        raise AssertionError("Tab never reached the bucket's link")
    keys(Keys.ENTER)
    find("#objects tr.object")
    assert driver.current_url.endswith("#/b/photos/"), driver.current_url


def t_phone_viewport():
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        for view, ready in [("#/buckets", "#buckets"), ("#/b/photos/", "#objects"), ("#/o/photos/big.bin", "#object-props"),
                            ("#/users", "#users"), ("#/server", "#usage")]:
            go(view)
            find(ready)
            inner, scroll = driver.execute_script(
                "return [window.innerWidth, document.documentElement.scrollWidth]")
            if scroll > inner or inner != 390:
                driver.save_screenshot(os.path.join(SHOTS, "phone-" + ready[1:] + ".png"))
            assert inner == 390 and scroll <= inner, (view, inner, scroll)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


FLOWS = [t_page_headers, t_login_refused, t_login, t_create_bucket, t_upload_30mib, t_cancel_upload, t_download,
         t_folder_and_delete, t_versions_restore, t_share_link, t_drop_upload, t_paging, t_object_edits,
         t_lock_bucket, t_user_login_and_refusals, t_policy_syntax_error,
         t_simulate, t_sessions_revoke, t_monitoring, t_keyboard, t_phone_viewport]

failed = 0
try:
    for flow in FLOWS:
        name = flow.__name__[2:]
        try:
            flow()
            print("PASS", name)
        except Exception:
            failed += 1
            shot = os.path.join(SHOTS, name + ".png")
            try:
                driver.save_screenshot(shot)
            except Exception:
                shot = "(no screenshot)"
            print("FAIL", name, "- screenshot:", shot)
            try:
                for entry in driver.get_log("browser")[-10:]:
                    print("    browser:", entry.get("level"), entry.get("message"))
            except Exception:
                pass
            traceback.print_exc()
    if os.environ.get("CONSOLE_SCREENSHOT") and not failed:
        login(ACCESS, SECRET)
        go("#/b/photos/")
        find("#objects")
        driver.save_screenshot(os.environ["CONSOLE_SCREENSHOT"])
finally:
    driver.quit()
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)

print("PASS browser-console" if not failed else "FAIL browser-console: %d flow(s)" % failed)
sys.exit(1 if failed else 0)
