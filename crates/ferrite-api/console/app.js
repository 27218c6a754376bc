// Ferrite's web console. Plain JavaScript, no dependencies, no build step.
//
// The console holds no secret key. It talks to the admin API (/admin/v1/) with its
// session cookie (HttpOnly: this script never sees it) and sends the session's CSRF
// token with every call that changes something. It reaches the S3 API with URLs the
// server presigns for the logged-in key (POST /admin/v1/presign), so every S3 call
// is authorized exactly as the same call from any S3 client would be.
//
// Pages are built with DOM calls only (never innerHTML with data): names, keys and
// messages are always text.
'use strict';

const state = { me: null, csrf: null };
const PART_SIZE = 8 * 1024 * 1024;
const MULTIPART_FROM = 16 * 1024 * 1024;

// ---- DOM helpers ----

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function main() { return document.getElementById('main'); }

function render(...nodes) {
  const m = main();
  m.replaceChildren(...nodes.flat());
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 2500);
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v : v.toFixed(1)) + ' ' + units[i];
}

function fmtTime(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString();
}

// ---- errors a person understands ----

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || ('HTTP ' + status));
    this.status = status;
    this.code = code || ('HTTP' + status);
  }
}

const FRIENDLY = {
  AccessDenied: 'You are not allowed to do this.',
  NotAuthenticated: 'Your session has ended. Log in again.',
  InvalidCredentials: 'The access key and secret, or the user name and password, are not right.',
  InvalidCsrfToken: 'The page is out of date. Reload it and try again.',
  NoSuchBucket: 'That bucket does not exist (any more).',
  NoSuchKey: 'That object does not exist (any more).',
  BucketNotEmpty: 'The bucket is not empty: delete its objects (and their versions) first.',
  BucketAlreadyExists: 'That bucket name is taken. Bucket names are unique on this server.',
  BucketAlreadyOwnedByYou: 'You already have a bucket of that name.',
  InvalidBucketName: 'That is not a valid bucket name: 3 to 63 lower-case letters, digits, dots and hyphens.',
  MalformedPolicy: 'The policy is not valid.',
  MalformedPolicyDocument: 'The policy is not valid.',
  MalformedXML: 'The settings are not valid.',
  EntityAlreadyExists: 'That name is taken.',
  NoSuchEntity: 'That does not exist (any more).',
  DeleteConflict: 'It is still in use.',
  LimitExceeded: 'A limit is reached.',
  ValidationError: 'Something in the form is not valid.',
  InvalidRequest: 'The request is not valid.',
  InvalidArgument: 'A value is not valid.',
  ObjectLockConfigurationNotFoundError: 'This bucket has no object lock.',
  NoSuchTagSet: 'The object has no tags.',
};

function errorBox(err) {
  const code = err && err.code ? err.code : 'Error';
  const friendly = FRIENDLY[code] || 'Something went wrong.';
  const detail = err && err.message && err.message !== code ? err.message : '';
  return h('div', { class: 'error', role: 'alert' },
    h('div', { text: friendly + (detail && !FRIENDLY[code] ? '' : '') }),
    detail ? h('div', { text: detail }) : null,
    h('details', {}, h('summary', { text: 'Details' }),
      h('div', { text: 'Error code: ' + code + (err && err.status ? ' (HTTP ' + err.status + ')' : '') })));
}

function showError(where, err) {
  if (err && err.code === 'NotAuthenticated') { showLogin(); return; }
  where.replaceChildren(errorBox(err));
}

// ---- the admin API ----

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['x-ferrite-csrf'] = state.csrf;
  const resp = await fetch('/admin/v1' + path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let json = null;
  if (text) { try { json = JSON.parse(text); } catch (_) { /* not JSON */ } }
  if (!resp.ok) {
    throw new ApiError(resp.status, json && json.error, json && json.message);
  }
  return json;
}

// ---- the S3 API, through presigned URLs ----

async function presign(requests) {
  return (await presignFull(requests)).urls;
}

// The URLs and each one's life in seconds (a session's URLs last no longer than it).
async function presignFull(requests) {
  return api('POST', '/presign', { requests });
}

function xml(text) {
  return new DOMParser().parseFromString(text, 'application/xml');
}

function tagText(node, tag) {
  const el = node.getElementsByTagName(tag)[0];
  return el ? el.textContent : null;
}

function s3Error(status, text) {
  if (text) {
    const doc = xml(text);
    const code = tagText(doc, 'Code');
    if (code) return new ApiError(status, code, tagText(doc, 'Message'));
  }
  return new ApiError(status, status === 403 ? 'AccessDenied' : status === 404 ? 'NoSuchKey' : null, null);
}

// One S3 call: req is {method, bucket, key, query, headers}; body optional.
async function s3(req, body) {
  const [url] = await presign([req]);
  const resp = await fetch(url, {
    method: req.method, headers: req.headers || {}, body, credentials: 'omit', cache: 'no-store',
  });
  const text = req.method === 'HEAD' ? '' : await resp.text();
  if (!resp.ok) throw s3Error(resp.status, text);
  return { status: resp.status, headers: resp.headers, text };
}

function escapeXml(s) {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' }[c]));
}

// A PUT of a body with upload progress (fetch reports none), cancellable.
function xhrPut(url, blob, onProgress, job) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    job.xhr = x;
    x.open('PUT', url);
    x.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded); };
    x.onload = () => {
      job.xhr = null;
      if (x.status >= 200 && x.status < 300) resolve(x.getResponseHeader('ETag'));
      else reject(s3Error(x.status, x.responseText));
    };
    x.onerror = () => { job.xhr = null; reject(new ApiError(0, 'NetworkError', 'the upload was interrupted')); };
    x.onabort = () => { job.xhr = null; reject(new ApiError(0, 'Cancelled', 'cancelled')); };
    x.send(blob);
  });
}

async function uploadFile(bucket, key, file, job, onProgress) {
  if (file.size < MULTIPART_FROM) {
    const [url] = await presign([{ method: 'PUT', bucket, key }]);
    await xhrPut(url, file, onProgress, job);
    return;
  }
  const created = await s3({ method: 'POST', bucket, key, query: { uploads: '' } });
  const uploadId = tagText(xml(created.text), 'UploadId');
  job.abortUpload = () => s3({ method: 'DELETE', bucket, key, query: { uploadId } }).catch(() => {});
  const parts = Math.ceil(file.size / PART_SIZE);
  const etags = [];
  // Parts are signed in batches as the upload goes, so no URL waits long for its turn.
  const BATCH = 50;
  let urls = [];
  for (let n = 1; n <= parts; n++) {
    if (job.cancelled) throw new ApiError(0, 'Cancelled', 'cancelled');
    if ((n - 1) % BATCH === 0) {
      const requests = [];
      for (let m = n; m < Math.min(parts + 1, n + BATCH); m++) {
        requests.push({ method: 'PUT', bucket, key, query: { partNumber: String(m), uploadId }, expires_secs: 3600 });
      }
      urls = await presign(requests);
    }
    const start = (n - 1) * PART_SIZE;
    const blob = file.slice(start, Math.min(file.size, start + PART_SIZE));
    etags.push(await xhrPut(urls[(n - 1) % BATCH], blob, (loaded) => onProgress(start + loaded), job));
  }
  const doc = '<CompleteMultipartUpload>' + etags.map((etag, i) =>
    '<Part><PartNumber>' + (i + 1) + '</PartNumber><ETag>' + escapeXml(etag || '') + '</ETag></Part>').join('') +
    '</CompleteMultipartUpload>';
  const done = await s3({ method: 'POST', bucket, key, query: { uploadId } }, doc);
  // Complete can answer 200 with an error in its body.
  const code = tagText(xml(done.text), 'Code');
  if (code) throw new ApiError(200, code, tagText(xml(done.text), 'Message'));
  job.abortUpload = null;
}

async function download(bucket, key, versionId) {
  const name = key.split('/').filter(Boolean).pop() || 'download';
  const query = { 'response-content-disposition': 'attachment; filename="' + name.replace(/["\\]/g, '_') + '"' };
  if (versionId) query.versionId = versionId;
  const [url] = await presign([{ method: 'GET', bucket, key, query }]);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---- routing ----

function enc(s) { return encodeURIComponent(s); }

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

const ROUTES = [
  [/^#\/buckets$/, () => viewBuckets()],
  [/^#\/b\/([^/]+)\/?(.*)$/, (m) => viewBrowser(decodeURIComponent(m[1]), decodeURIComponent(m[2] || ''))],
  [/^#\/o\/([^/]+)\/(.+)$/, (m) => viewObject(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/settings\/([^/]+)$/, (m) => viewSettings(decodeURIComponent(m[1]))],
  [/^#\/users$/, () => viewUsers()],
  [/^#\/users\/(.+)$/, (m) => viewUser(decodeURIComponent(m[1]))],
  [/^#\/policies$/, () => viewPolicies()],
  [/^#\/policies\/(.+)$/, (m) => viewPolicy(decodeURIComponent(m[1]))],
  [/^#\/kms$/, () => viewKms()],
  [/^#\/sessions$/, () => viewSessions()],
  [/^#\/server$/, () => viewServer()],
  [/^#\/monitor$/, () => viewMonitor()],
];

const NAV = [
  ['#/buckets', 'Buckets', false],
  ['#/users', 'Users', true],
  ['#/policies', 'Policies', true],
  ['#/kms', 'KMS keys', true],
  ['#/sessions', 'Sessions', true],
  ['#/server', 'Server', true],
  ['#/monitor', 'Monitoring', true],
];

function drawNav() {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!state.me) { nav.replaceChildren(); who.replaceChildren(); return; }
  const here = location.hash || '#/buckets';
  nav.replaceChildren(...NAV.filter(([, , admin]) => !admin || state.me.admin).map(([href, label]) =>
    h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null, text: label })));
  who.replaceChildren(
    h('span', { id: 'who-name', text: state.me.principal + (state.me.root ? ' (root)' : '') }),
    h('button', { id: 'logout', onclick: logout, text: 'Log out' }));
}

async function route() {
  if (!state.me) { showLogin(); return; }
  const hash = location.hash || '#/buckets';
  drawNav();
  for (const [re, view] of ROUTES) {
    const m = hash.match(re);
    if (m) {
      try { await view(m); } catch (e) { showError(main(), e); }
      main().focus();
      return;
    }
  }
  go('#/buckets');
}

// ---- login ----

function showLogin() {
  state.me = null;
  state.csrf = null;
  drawNav();
  const msg = h('div', { id: 'login-error' });
  let mode = 'key';
  const id = h('input', { id: 'login-id', autocomplete: 'username', required: true, spellcheck: 'false' });
  const secret = h('input', { id: 'login-secret', type: 'password', autocomplete: 'current-password', required: true });
  const idLabel = h('label', { for: 'login-id', text: 'Access key ID' });
  const secretLabel = h('label', { for: 'login-secret', text: 'Secret access key' });
  const switcher = h('button', { type: 'button', id: 'login-mode', text: 'Log in with a user name and password instead' });
  switcher.addEventListener('click', () => {
    mode = mode === 'key' ? 'password' : 'key';
    idLabel.textContent = mode === 'key' ? 'Access key ID' : 'User name';
    secretLabel.textContent = mode === 'key' ? 'Secret access key' : 'Password';
    switcher.textContent = mode === 'key' ? 'Log in with a user name and password instead' : 'Log in with an access key instead';
  });
  const form = h('form', { class: 'card login', id: 'login-form' },
    h('h1', { text: 'Log in to Ferrite' }),
    idLabel, id, secretLabel, secret,
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'login-submit', text: 'Log in' })),
    switcher, msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = mode === 'key'
      ? { access_key_id: id.value.trim(), secret_access_key: secret.value }
      : { user: id.value.trim(), password: secret.value };
    try {
      const me = await api('POST', '/session', body);
      secret.value = '';
      state.me = me;
      state.csrf = me.csrf_token;
      if (!location.hash || location.hash === '#/login') location.hash = '#/buckets';
      route();
    } catch (err) {
      msg.replaceChildren(errorBox(err));
    }
  });
  render(form);
  id.focus();
}

async function logout() {
  try { await api('DELETE', '/session'); } catch (_) { /* gone already */ }
  showLogin();
}

// ---- buckets ----

async function listBuckets() {
  const r = await s3({ method: 'GET' });
  return Array.from(xml(r.text).getElementsByTagName('Bucket')).map((b) => ({
    name: tagText(b, 'Name'), created: tagText(b, 'CreationDate'),
  }));
}

async function viewBuckets() {
  const box = h('div');
  const name = h('input', { id: 'new-bucket', placeholder: 'bucket-name', 'aria-label': 'New bucket name', spellcheck: 'false' });
  const versioning = h('input', { type: 'checkbox', id: 'new-bucket-versioning' });
  const lock = h('input', { type: 'checkbox', id: 'new-bucket-lock' });
  const encryption = h('select', { id: 'new-bucket-encryption', 'aria-label': 'Default encryption' },
    h('option', { value: '', text: 'Server default encryption' }),
    h('option', { value: 'AES256', text: 'SSE-S3 (AES256)' }),
    h('option', { value: 'aws:kms', text: 'SSE-KMS (default key)' }));
  const createMsg = h('div');
  const form = h('form', { class: 'card', id: 'create-bucket' },
    h('h2', { text: 'Create a bucket' }),
    h('div', { class: 'row' }, name,
      h('label', { class: 'inline' }, versioning, 'Versioning'),
      h('label', { class: 'inline' }, lock, 'Object lock (turns versioning on)'),
      encryption,
      h('button', { class: 'primary', type: 'submit', text: 'Create' })),
    createMsg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const bucket = name.value.trim();
    try {
      const headers = lock.checked ? { 'x-amz-bucket-object-lock-enabled': 'true' } : {};
      await s3({ method: 'PUT', bucket, headers });
      if (versioning.checked && !lock.checked) {
        await s3({ method: 'PUT', bucket, query: { versioning: '' } },
          '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>');
      }
      if (encryption.value) {
        await s3({ method: 'PUT', bucket, query: { encryption: '' } },
          '<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>' +
          encryption.value + '</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>');
      }
      toast('Bucket ' + bucket + ' created');
      viewBuckets();
    } catch (err) { showError(createMsg, err); }
  });
  render(h('h1', { text: 'Buckets' }), form, box);
  try {
    const buckets = await listBuckets();
    if (!buckets.length) { box.replaceChildren(h('p', { class: 'muted', text: 'No buckets yet.' })); return; }
    box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'buckets' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { class: 'wide', text: 'Created' }), h('th', {}))),
      h('tbody', {}, buckets.map((b) => h('tr', {},
        h('td', {}, h('a', { href: '#/b/' + enc(b.name) + '/', text: b.name })),
        h('td', { class: 'wide', text: b.created ? new Date(b.created).toLocaleString() : '' }),
        h('td', { class: 'actions' },
          h('a', { class: 'button', href: '#/settings/' + enc(b.name), text: 'Settings' }), ' ',
          h('button', {
            class: 'danger', 'data-bucket': b.name, text: 'Delete',
            onclick: async () => {
              if (!confirm('Delete the bucket ' + b.name + '? It must be empty.')) return;
              try { await s3({ method: 'DELETE', bucket: b.name }); toast('Deleted ' + b.name); viewBuckets(); } catch (err) { showError(box, err); }
            },
          }))))))));
  } catch (err) { showError(box, err); }
}

// ---- the object browser ----

function crumbs(bucket, prefix) {
  const parts = prefix.split('/').filter(Boolean);
  const out = [h('a', { href: '#/buckets', text: 'Buckets' }), ' / ', h('a', { href: '#/b/' + enc(bucket) + '/', text: bucket })];
  let acc = '';
  for (const p of parts) {
    acc += p + '/';
    out.push(' / ', h('a', { href: '#/b/' + enc(bucket) + '/' + enc(acc), text: p }));
  }
  return h('nav', { class: 'crumbs', 'aria-label': 'Path' }, out);
}

async function viewBrowser(bucket, prefix) {
  const list = h('div', { id: 'listing' });
  const msg = h('div');
  const uploads = h('div', { id: 'uploads' });
  const search = h('input', { id: 'search', placeholder: 'Filter by name prefix', 'aria-label': 'Filter by name prefix', spellcheck: 'false' });
  const pageSize = h('select', { id: 'page-size', 'aria-label': 'Entries per page' },
    ['100', '1000'].map((n) => h('option', { value: n, text: n + ' per page', selected: n === '1000' })));
  const tokens = [null];
  let page = 0;

  async function load() {
    list.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
    const query = { 'list-type': '2', delimiter: '/', prefix: prefix + search.value, 'max-keys': pageSize.value };
    if (tokens[page]) query['continuation-token'] = tokens[page];
    try {
      const r = await s3({ method: 'GET', bucket, query });
      const doc = xml(r.text);
      const folders = Array.from(doc.getElementsByTagName('CommonPrefixes')).map((p) => tagText(p, 'Prefix'));
      const objects = Array.from(doc.getElementsByTagName('Contents')).map((c) => ({
        key: tagText(c, 'Key'), size: Number(tagText(c, 'Size')), modified: tagText(c, 'LastModified'), cls: tagText(c, 'StorageClass'),
      })).filter((o) => o.key !== prefix);
      const next = tagText(doc, 'NextContinuationToken');
      tokens[page + 1] = tagText(doc, 'IsTruncated') === 'true' ? next : null;
      const rows = [];
      for (const f of folders) {
        rows.push(h('tr', { class: 'folder' },
          h('td', {}, h('a', { href: '#/b/' + enc(bucket) + '/' + enc(f), text: f.slice(prefix.length) })),
          h('td', { class: 'num' }), h('td', { class: 'wide' }), h('td', { class: 'wide' }), h('td')));
      }
      for (const o of objects) {
        rows.push(h('tr', { class: 'object', 'data-key': o.key },
          h('td', {}, h('a', { href: '#/o/' + enc(bucket) + '/' + enc(o.key), text: o.key.slice(prefix.length) })),
          h('td', { class: 'num', text: fmtBytes(o.size) }),
          h('td', { class: 'wide', text: o.modified ? new Date(o.modified).toLocaleString() : '' }),
          h('td', { class: 'wide', text: o.cls || '' }),
          h('td', { class: 'actions' },
            h('button', { class: 'download', onclick: () => download(bucket, o.key).catch((e) => showError(msg, e)), text: 'Download' }), ' ',
            h('button', {
              class: 'danger delete', text: 'Delete',
              onclick: async () => {
                if (!confirm('Delete ' + o.key + '?')) return;
                try { await s3({ method: 'DELETE', bucket, key: o.key }); toast('Deleted'); load(); } catch (e) { showError(msg, e); }
              },
            }))));
      }
      const pager = h('div', { class: 'row' },
        h('button', { id: 'prev-page', disabled: page === 0, text: 'Previous page', onclick: () => { page--; load(); } }),
        h('span', { class: 'muted', text: 'Page ' + (page + 1) }),
        h('button', { id: 'next-page', disabled: !tokens[page + 1], text: 'Next page', onclick: () => { page++; load(); } }));
      list.replaceChildren(
        rows.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'objects' },
          h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { class: 'num', text: 'Size' }),
            h('th', { class: 'wide', text: 'Modified' }), h('th', { class: 'wide', text: 'Class' }), h('th'))),
          h('tbody', {}, rows))) : h('p', { class: 'muted', id: 'empty', text: 'Nothing here.' }),
        pager);
    } catch (e) { showError(list, e); }
  }

  function startUploads(entries) {
    for (const { file, path } of entries) {
      const key = prefix + path;
      const bar = h('progress', { max: file.size || 1, value: 0 });
      const status = h('span', { class: 'muted', text: 'uploading' });
      const job = { cancelled: false, xhr: null, abortUpload: null };
      const cancel = h('button', {
        text: 'Cancel',
        onclick: () => { job.cancelled = true; if (job.xhr) job.xhr.abort(); },
      });
      const row = h('div', { class: 'upload', 'data-key': key }, h('span', { text: key }), bar, status, cancel);
      uploads.append(row);
      uploadFile(bucket, key, file, job, (loaded) => { bar.value = loaded; })
        .then(() => {
          bar.value = file.size || 1;
          status.textContent = 'done';
          status.className = 'ok upload-done';
          cancel.remove();
          load();
        })
        .catch((err) => {
          if (job.abortUpload) job.abortUpload();
          status.textContent = err.code === 'Cancelled' ? 'cancelled' : (FRIENDLY[err.code] || 'failed') + ' (' + err.code + ')';
          status.className = 'upload-failed';
          cancel.remove();
        });
    }
  }

  const files = h('input', { type: 'file', id: 'upload-files', multiple: true, 'aria-label': 'Upload files' });
  files.addEventListener('change', () => { startUploads(Array.from(files.files).map((f) => ({ file: f, path: f.name }))); files.value = ''; });
  const folderInput = h('input', { type: 'file', id: 'upload-folder', webkitdirectory: true, 'aria-label': 'Upload a folder' });
  folderInput.addEventListener('change', () => {
    startUploads(Array.from(folderInput.files).map((f) => ({ file: f, path: f.webkitRelativePath || f.name })));
    folderInput.value = '';
  });
  const drop = h('div', { class: 'drop', id: 'drop', text: 'Drop files or folders here to upload them to this folder' });
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const entries = [];
    const walk = (entry, path) => new Promise((resolve) => {
      if (entry.isFile) entry.file((f) => { entries.push({ file: f, path: path + f.name }); resolve(); }, () => resolve());
      else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        const more = () => reader.readEntries(async (batch) => {
          if (!batch.length) { for (const b of all) await walk(b, path + entry.name + '/'); resolve(); } else { all.push(...batch); more(); }
        }, () => resolve());
        more();
      } else resolve();
    });
    const items = Array.from(e.dataTransfer.items || []).map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    if (items.length) { for (const it of items) await walk(it, ''); } else {
      for (const f of e.dataTransfer.files) entries.push({ file: f, path: f.name });
    }
    startUploads(entries);
  });

  const folderName = h('input', { id: 'folder-name', placeholder: 'New folder name', 'aria-label': 'New folder name', spellcheck: 'false' });
  const folderForm = h('form', { class: 'row', id: 'create-folder' }, folderName, h('button', { type: 'submit', text: 'Create folder' }));
  folderForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = folderName.value.trim().replace(/^\/+|\/+$/g, '');
    if (!n) return;
    try { await s3({ method: 'PUT', bucket, key: prefix + n + '/' }, ''); folderName.value = ''; load(); } catch (err) { showError(msg, err); }
  });
  search.addEventListener('input', () => { tokens.length = 1; page = 0; clearTimeout(search.timer); search.timer = setTimeout(load, 250); });
  pageSize.addEventListener('change', () => { tokens.length = 1; page = 0; load(); });

  render(h('h1', { text: bucket }), crumbs(bucket, prefix),
    h('div', { class: 'row' }, h('a', { class: 'button', href: '#/settings/' + enc(bucket), text: 'Bucket settings' })),
    h('div', { class: 'card' },
      h('div', { class: 'row' }, h('label', { class: 'inline' }, 'Files ', files), h('label', { class: 'inline' }, 'Folder ', folderInput)),
      drop, uploads),
    folderForm, h('div', { class: 'row' }, search, pageSize), msg, list);
  load();
}

// ---- one object ----

async function viewObject(bucket, key) {
  const msg = h('div');
  const propsBox = h('div');
  const tagsBox = h('div');
  const lockBox = h('div');
  const versionsBox = h('div');
  const shareBox = h('div');
  const folder = key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : '';
  render(h('h1', { text: key }), crumbs(bucket, folder), msg,
    h('div', { class: 'row' },
      h('button', { id: 'object-download', onclick: () => download(bucket, key).catch((e) => showError(msg, e)), text: 'Download' }),
      h('button', {
        class: 'danger', id: 'object-delete', text: 'Delete',
        onclick: async () => {
          if (!confirm('Delete ' + key + '?')) return;
          try { await s3({ method: 'DELETE', bucket, key }); go('#/b/' + enc(bucket) + '/' + enc(folder)); } catch (e) { showError(msg, e); }
        },
      })),
    h('h2', { text: 'Properties' }), propsBox,
    h('h2', { text: 'Share' }), shareBox,
    h('h2', { text: 'Tags' }), tagsBox,
    h('h2', { text: 'Retention and legal hold' }), lockBox,
    h('h2', { text: 'Versions' }), versionsBox);

  // Properties (HEAD), with metadata edits by self-copy.
  try {
    const r = await s3({ method: 'HEAD', bucket, key, headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    const hd = r.headers;
    const meta = [];
    hd.forEach((v, k) => { if (k.startsWith('x-amz-meta-')) meta.push([k.slice(11), v]); });
    const checksums = [];
    hd.forEach((v, k) => { if (k.startsWith('x-amz-checksum-') && k !== 'x-amz-checksum-type') checksums.push(k.slice(15).toUpperCase() + ' ' + v); });
    const enc0 = hd.get('x-amz-server-side-encryption');
    const props = [
      ['Size', fmtBytes(Number(hd.get('content-length'))) + ' (' + hd.get('content-length') + ' bytes)'],
      ['ETag', hd.get('etag')],
      ['Checksums', checksums.join(', ') || 'none'],
      ['Content type', hd.get('content-type')],
      ['Last modified', hd.get('last-modified')],
      ['Storage class', hd.get('x-amz-storage-class') || 'STANDARD'],
      ['Encryption', enc0 ? enc0 + (hd.get('x-amz-server-side-encryption-aws-kms-key-id') ? ' (' + hd.get('x-amz-server-side-encryption-aws-kms-key-id') + ')' : '') : 'none'],
      ['Version', hd.get('x-amz-version-id') || 'null'],
    ];
    const metaRows = h('div', { id: 'meta-rows' });
    const addMeta = (k, v) => {
      const row = h('div', { class: 'row meta' },
        h('input', { class: 'meta-key', value: k, 'aria-label': 'Metadata name' }),
        h('input', { class: 'meta-value', value: v, 'aria-label': 'Metadata value' }),
        h('button', { type: 'button', text: 'Remove', onclick: () => row.remove() }));
      metaRows.append(row);
    };
    meta.forEach(([k, v]) => addMeta(k, v));
    const ctype = h('input', { id: 'meta-content-type', value: hd.get('content-type') || '', 'aria-label': 'Content type' });
    const metaMsg = h('div');
    const metaForm = h('form', { class: 'card', id: 'metadata-form' },
      h('label', { for: 'meta-content-type', text: 'Content type' }), ctype,
      h('label', { text: 'User metadata (x-amz-meta-*)' }), metaRows,
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'add-meta', text: 'Add metadata', onclick: () => addMeta('', '') }),
        h('button', { class: 'primary', type: 'submit', id: 'save-meta', text: 'Save metadata (rewrites the object by a copy onto itself)' })),
      metaMsg);
    metaForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const headers = {
        'x-amz-copy-source': '/' + bucket + '/' + encodeURIComponent(key).replace(/%2F/g, '/'),
        'x-amz-metadata-directive': 'REPLACE',
      };
      if (ctype.value.trim()) headers['content-type'] = ctype.value.trim();
      for (const row of metaRows.querySelectorAll('.meta')) {
        const k = row.querySelector('.meta-key').value.trim().toLowerCase();
        if (k) headers['x-amz-meta-' + k] = row.querySelector('.meta-value').value;
      }
      try { await s3({ method: 'PUT', bucket, key, headers }); toast('Metadata saved'); viewObject(bucket, key); } catch (err) { showError(metaMsg, err); }
    });
    propsBox.replaceChildren(h('dl', { class: 'props', id: 'object-props' }, props.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v || '' })])), metaForm);
  } catch (e) { showError(propsBox, e); }

  // A shareable link.
  const expiry = h('select', { id: 'share-expiry', 'aria-label': 'Link expiry' },
    [['900', '15 minutes'], ['3600', '1 hour'], ['14400', '4 hours'], ['28800', 'until this session ends']].map(([v, t]) => h('option', { value: v, text: t })));
  const linkNote = h('p', { class: 'muted', id: 'share-note', text: 'A link works with your rights until it expires, at the latest when this session ends.' });
  const linkOut = h('input', { id: 'share-link', readonly: true, 'aria-label': 'Shareable link', size: 60 });
  shareBox.replaceChildren(h('div', { class: 'row' }, expiry,
    h('button', {
      id: 'share-make', text: 'Make a link',
      onclick: async () => {
        try {
          const out = await presignFull([{ method: 'GET', bucket, key, expires_secs: Number(expiry.value) }]);
          const url = out.urls[0];
          linkOut.value = url;
          linkNote.textContent = 'This link works until ' + new Date(Date.now() + out.expires_secs[0] * 1000).toLocaleString() + '.';
          linkOut.select();
          if (navigator.clipboard) navigator.clipboard.writeText(url).then(() => toast('Link copied'), () => {});
        } catch (e) { showError(shareBox, e); }
      },
    }), linkOut), linkNote);

  // Tags.
  (async () => {
    let tags = [];
    try {
      const r = await s3({ method: 'GET', bucket, key, query: { tagging: '' } });
      tags = Array.from(xml(r.text).getElementsByTagName('Tag')).map((t) => [tagText(t, 'Key'), tagText(t, 'Value')]);
    } catch (e) { if (e.code !== 'NoSuchTagSet') { showError(tagsBox, e); return; } }
    const rows = h('div', { id: 'tag-rows' });
    const add = (k, v) => {
      const row = h('div', { class: 'row tag' },
        h('input', { class: 'tag-key', value: k, 'aria-label': 'Tag key' }),
        h('input', { class: 'tag-value', value: v, 'aria-label': 'Tag value' }),
        h('button', { type: 'button', text: 'Remove', onclick: () => row.remove() }));
      rows.append(row);
    };
    tags.forEach(([k, v]) => add(k, v));
    const tmsg = h('div');
    const form = h('form', { id: 'tags-form' }, rows,
      h('div', { class: 'row' }, h('button', { type: 'button', id: 'add-tag', text: 'Add tag', onclick: () => add('', '') }),
        h('button', { class: 'primary', type: 'submit', id: 'save-tags', text: 'Save tags' })), tmsg);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const set = Array.from(rows.querySelectorAll('.tag')).map((r) => [r.querySelector('.tag-key').value.trim(), r.querySelector('.tag-value').value]).filter(([k]) => k);
      try {
        if (set.length) {
          await s3({ method: 'PUT', bucket, key, query: { tagging: '' } }, '<Tagging><TagSet>' +
            set.map(([k, v]) => '<Tag><Key>' + escapeXml(k) + '</Key><Value>' + escapeXml(v) + '</Value></Tag>').join('') + '</TagSet></Tagging>');
        } else {
          await s3({ method: 'DELETE', bucket, key, query: { tagging: '' } });
        }
        toast('Tags saved');
        tmsg.replaceChildren(h('span', { class: 'ok', id: 'tags-saved', text: 'Saved.' }));
      } catch (err) { showError(tmsg, err); }
    });
    tagsBox.replaceChildren(form);
  })();

  // Retention and legal hold (buckets with object lock only).
  (async () => {
    let retention = null;
    let hold = null;
    try {
      const r = await s3({ method: 'GET', bucket, key, query: { retention: '' } });
      const d = xml(r.text);
      retention = { mode: tagText(d, 'Mode'), until: tagText(d, 'RetainUntilDate') };
    } catch (e) {
      if (e.code === 'InvalidRequest' || e.code === 'ObjectLockConfigurationNotFoundError') {
        lockBox.replaceChildren(h('p', { class: 'muted', text: 'The bucket has no object lock.' }));
        return;
      }
      if (e.code !== 'NoSuchObjectLockConfiguration') { showError(lockBox, e); return; }
    }
    try {
      const r = await s3({ method: 'GET', bucket, key, query: { 'legal-hold': '' } });
      hold = tagText(xml(r.text), 'Status');
    } catch (e) { if (e.code !== 'NoSuchObjectLockConfiguration') { showError(lockBox, e); return; } }
    const mode = h('select', { id: 'retention-mode', 'aria-label': 'Retention mode' },
      ['GOVERNANCE', 'COMPLIANCE'].map((m) => h('option', { value: m, text: m, selected: retention && retention.mode === m })));
    const until = h('input', { id: 'retention-until', type: 'datetime-local', 'aria-label': 'Retain until' });
    if (retention && retention.until) until.value = new Date(retention.until).toISOString().slice(0, 16);
    const lmsg = h('div');
    const holdBox = h('input', { type: 'checkbox', id: 'legal-hold', checked: hold === 'ON' });
    lockBox.replaceChildren(
      h('p', { text: retention && retention.mode ? 'Retained in ' + retention.mode + ' mode until ' + new Date(retention.until).toLocaleString() : 'No retention.' }),
      h('div', { class: 'row' }, mode, until, h('button', {
        id: 'set-retention', text: 'Set retention',
        onclick: async () => {
          if (!until.value) return;
          try {
            await s3({ method: 'PUT', bucket, key, query: { retention: '' } },
              '<Retention><Mode>' + mode.value + '</Mode><RetainUntilDate>' + new Date(until.value).toISOString() + '</RetainUntilDate></Retention>');
            toast('Retention set');
            lmsg.replaceChildren(h('span', { class: 'ok', id: 'lock-saved', text: 'Retention set.' }));
          } catch (e) { showError(lmsg, e); }
        },
      })),
      h('div', { class: 'row' }, h('label', { class: 'inline' }, holdBox, 'Legal hold'), h('button', {
        id: 'save-legal-hold', text: 'Save legal hold',
        onclick: async () => {
          try {
            await s3({ method: 'PUT', bucket, key, query: { 'legal-hold': '' } },
              '<LegalHold><Status>' + (holdBox.checked ? 'ON' : 'OFF') + '</Status></LegalHold>');
            toast('Legal hold saved');
            lmsg.replaceChildren(h('span', { class: 'ok', id: 'lock-saved', text: 'Legal hold saved.' }));
          } catch (e) { showError(lmsg, e); }
        },
      })), lmsg);
  })();

  // Versions.
  (async () => {
    try {
      const r = await s3({ method: 'GET', bucket, query: { versions: '', prefix: key } });
      const d = xml(r.text);
      const rows = [];
      for (const el of d.documentElement.children) {
        if (el.localName !== 'Version' && el.localName !== 'DeleteMarker') continue;
        if (tagText(el, 'Key') !== key) continue;
        const vid = tagText(el, 'VersionId');
        const latest = tagText(el, 'IsLatest') === 'true';
        const marker = el.localName === 'DeleteMarker';
        rows.push(h('tr', { class: 'version', 'data-version': vid },
          h('td', { text: vid + (latest ? ' (current)' : '') + (marker ? ' — delete marker' : '') }),
          h('td', { class: 'num', text: marker ? '' : fmtBytes(Number(tagText(el, 'Size'))) }),
          h('td', { class: 'wide', text: new Date(tagText(el, 'LastModified')).toLocaleString() }),
          h('td', { class: 'actions' },
            marker ? null : h('button', { text: 'Download', onclick: () => download(bucket, key, vid).catch((e) => showError(versionsBox, e)) }), ' ',
            marker || latest ? null : h('button', {
              class: 'restore', text: 'Restore this version',
              onclick: async () => {
                try {
                  await s3({ method: 'PUT', bucket, key, headers: { 'x-amz-copy-source': '/' + bucket + '/' + encodeURIComponent(key).replace(/%2F/g, '/') + '?versionId=' + encodeURIComponent(vid) } });
                  toast('Version restored');
                  viewObject(bucket, key);
                } catch (e) { showError(versionsBox, e); }
              },
            }), ' ',
            h('button', {
              class: 'danger', text: 'Delete version',
              onclick: async () => {
                if (!confirm('Delete this version for good?')) return;
                try { await s3({ method: 'DELETE', bucket, key, query: { versionId: vid } }); viewObject(bucket, key); } catch (e) { showError(versionsBox, e); }
              },
            }))));
      }
      versionsBox.replaceChildren(rows.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'versions' }, h('tbody', {}, rows))) : h('p', { class: 'muted', text: 'No versions.' }));
    } catch (e) { showError(versionsBox, e); }
  })();
}

// ---- bucket settings ----

async function viewSettings(bucket) {
  const parts = {};
  const section = (id, title) => { parts[id] = h('div', { id: 'settings-' + id }); return [h('h2', { text: title }), parts[id]]; };
  render(h('h1', { text: bucket + ': settings' }), crumbs(bucket, ''),
    section('versioning', 'Versioning'), section('encryption', 'Default encryption'), section('lock', 'Object lock'),
    section('policy', 'Bucket policy'), section('lifecycle', 'Lifecycle rules (XML)'), section('cors', 'CORS rules (XML)'),
    section('ownership', 'Object ownership'), section('pab', 'Public access block'));

  // Versioning.
  (async () => {
    const box = parts.versioning;
    try {
      const r = await s3({ method: 'GET', bucket, query: { versioning: '' } });
      const status = tagText(xml(r.text), 'Status') || 'Unversioned';
      const set = (s) => async () => {
        try {
          await s3({ method: 'PUT', bucket, query: { versioning: '' } }, '<VersioningConfiguration><Status>' + s + '</Status></VersioningConfiguration>');
          toast('Versioning ' + s.toLowerCase()); viewSettings(bucket);
        } catch (e) { showError(box, e); }
      };
      box.replaceChildren(h('div', { class: 'row' }, h('span', { id: 'versioning-status', text: status }),
        status !== 'Enabled' ? h('button', { id: 'versioning-enable', onclick: set('Enabled'), text: 'Enable' }) : null,
        status === 'Enabled' ? h('button', { id: 'versioning-suspend', onclick: set('Suspended'), text: 'Suspend' }) : null));
    } catch (e) { showError(box, e); }
  })();

  // An XML or JSON document setting: shown in an editor, saved whole, deleted.
  const documentSetting = async (id, query, notFound, contentType) => {
    const box = parts[id];
    let text = '';
    try { text = (await s3({ method: 'GET', bucket, query: { [query]: '' } })).text; } catch (e) {
      if (!notFound.includes(e.code)) { showError(box, e); return; }
    }
    const area = h('textarea', { id: id + '-document', 'aria-label': id + ' document', spellcheck: 'false' });
    area.value = text;
    const msg = h('div');
    box.replaceChildren(area, h('div', { class: 'row' },
      h('button', {
        class: 'primary', id: id + '-save', text: 'Save',
        onclick: async () => {
          try {
            await s3({ method: 'PUT', bucket, query: { [query]: '' }, headers: contentType ? { 'content-type': contentType } : {} }, area.value);
            msg.replaceChildren(h('span', { class: 'ok', text: 'Saved.' }));
          } catch (e) { showError(msg, e); }
        },
      }),
      query === 'object-lock' ? null : h('button', {
        class: 'danger', id: id + '-delete', text: 'Remove',
        onclick: async () => {
          try { await s3({ method: 'DELETE', bucket, query: { [query]: '' } }); area.value = ''; msg.replaceChildren(h('span', { class: 'ok', text: 'Removed.' })); } catch (e) { showError(msg, e); }
        },
      })), msg);
  };
  documentSetting('encryption', 'encryption', ['ServerSideEncryptionConfigurationNotFoundError']);
  documentSetting('lock', 'object-lock', ['ObjectLockConfigurationNotFoundError']);
  documentSetting('policy', 'policy', ['NoSuchBucketPolicy'], 'application/json');
  documentSetting('lifecycle', 'lifecycle', ['NoSuchLifecycleConfiguration']);
  documentSetting('cors', 'cors', ['NoSuchCORSConfiguration']);
  documentSetting('ownership', 'ownershipControls', ['OwnershipControlsNotFoundError']);
  documentSetting('pab', 'publicAccessBlock', ['NoSuchPublicAccessBlockConfiguration']);
}

// ---- administration: users ----

async function viewUsers() {
  const box = h('div');
  const name = h('input', { id: 'new-user', placeholder: 'user name', 'aria-label': 'New user name', spellcheck: 'false' });
  const msg = h('div');
  const form = h('form', { class: 'row', id: 'create-user' }, name, h('button', { class: 'primary', type: 'submit', text: 'Create user' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await api('POST', '/users', { name: name.value.trim() }); go('#/users/' + enc(name.value.trim())); } catch (err) { showError(msg, err); }
  });
  render(h('h1', { text: 'Users' }), form, msg, box);
  const out = await api('GET', '/users?max_items=1000');
  box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'users' },
    h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { class: 'wide', text: 'Created' }))),
    h('tbody', {}, out.users.map((u) => h('tr', {},
      h('td', {}, h('a', { href: '#/users/' + enc(u.name), text: u.name })),
      h('td', { class: 'wide', text: fmtTime(u.created_ms) })))))));
}

async function viewUser(user) {
  const u = '/users/' + enc(user);
  const keysBox = h('div');
  const pwBox = h('div', { id: 'password-box' });
  const attachedBox = h('div');
  const inlineBox = h('div');
  const msg = h('div');
  render(h('h1', { text: 'User ' + user }), h('nav', { class: 'crumbs' }, h('a', { href: '#/users', text: 'Users' })), msg,
    h('h2', { text: 'Access keys' }), keysBox,
    h('h2', { text: 'Console password' }), pwBox,
    h('h2', { text: 'Attached policies' }), attachedBox,
    h('h2', { text: 'Inline policies' }), inlineBox,
    h('div', { class: 'row' }, h('button', {
      class: 'danger', id: 'delete-user', text: 'Delete user',
      onclick: async () => {
        if (!confirm('Delete the user ' + user + '?')) return;
        try { await api('DELETE', u); go('#/users'); } catch (e) { showError(msg, e); }
      },
    })));
  const info = await api('GET', u);
  msg.replaceChildren(h('p', { class: 'muted', text: info.arn }));

  const keys = async () => {
    const out = await api('GET', u + '/keys');
    const fresh = h('div', { id: 'new-key' });
    keysBox.replaceChildren(
      h('div', { class: 'table-wrap' }, h('table', { id: 'keys' }, h('tbody', {}, out.keys.map((k) => h('tr', {},
        h('td', { text: k.access_key_id }), h('td', { text: k.status }), h('td', { class: 'wide', text: fmtTime(k.created_ms) }),
        h('td', { class: 'actions' },
          h('button', {
            text: k.status === 'Active' ? 'Disable' : 'Enable',
            onclick: async () => { try { await api('PATCH', u + '/keys/' + enc(k.access_key_id), { status: k.status === 'Active' ? 'Inactive' : 'Active' }); keys(); } catch (e) { showError(keysBox, e); } },
          }), ' ',
          h('button', {
            class: 'danger', text: 'Delete',
            onclick: async () => { if (!confirm('Delete the key ' + k.access_key_id + '?')) return; try { await api('DELETE', u + '/keys/' + enc(k.access_key_id)); keys(); } catch (e) { showError(keysBox, e); } },
          }))))))),
      h('div', { class: 'row' }, h('button', {
        id: 'create-key', text: 'Create access key',
        onclick: async () => {
          try {
            const k = await api('POST', u + '/keys');
            await keys();
            keysBox.append(h('div', { class: 'card', id: 'new-key' },
              h('p', { text: 'The new key. Its secret is shown only now: copy it somewhere safe.' }),
              h('div', { class: 'secret' }, 'Access key ID: ', h('span', { id: 'new-key-id', text: k.access_key_id })),
              h('div', { class: 'secret' }, 'Secret access key: ', h('span', { id: 'new-key-secret', text: k.secret_access_key }))));
          } catch (e) { showError(keysBox, e); }
        },
      })), fresh);
  };

  const password = async () => {
    const out = await api('GET', u + '/password');
    const pw = h('input', { type: 'password', id: 'new-password', autocomplete: 'new-password', 'aria-label': 'New console password' });
    const pmsg = h('div');
    pwBox.replaceChildren(h('p', { text: out.password_set ? 'Set ' + fmtTime(out.set_ms) : 'No console password.' }),
      h('div', { class: 'row' }, pw,
        h('button', {
          id: 'set-password', text: 'Set password',
          onclick: async () => { try { await api('PUT', u + '/password', { password: pw.value }); pw.value = ''; toast('Password set'); password(); } catch (e) { showError(pmsg, e); } },
        }),
        out.password_set ? h('button', {
          class: 'danger', text: 'Remove password',
          onclick: async () => { try { await api('DELETE', u + '/password'); password(); } catch (e) { showError(pmsg, e); } },
        }) : null), pmsg);
  };

  const attached = async () => {
    const [mine, all] = await Promise.all([api('GET', u + '/policies'), api('GET', '/policies')]);
    const pick = h('select', { id: 'attach-policy', 'aria-label': 'Policy to attach' },
      all.policies.filter((p) => !mine.policies.some((m) => m.arn === p.arn)).map((p) => h('option', { value: p.name, text: p.name })));
    attachedBox.replaceChildren(
      h('ul', { id: 'attached' }, mine.policies.map((p) => h('li', {}, p.name, ' ', h('button', {
        text: 'Detach',
        onclick: async () => { try { await api('DELETE', u + '/policies/' + enc(p.name)); attached(); } catch (e) { showError(attachedBox, e); } },
      })))),
      h('div', { class: 'row' }, pick, h('button', {
        id: 'attach', text: 'Attach',
        onclick: async () => { if (!pick.value) return; try { await api('PUT', u + '/policies/' + enc(pick.value)); attached(); } catch (e) { showError(attachedBox, e); } },
      })));
  };

  const inline = async () => {
    const out = await api('GET', u + '/inline-policies');
    const pname = h('input', { id: 'inline-name', placeholder: 'policy name', 'aria-label': 'Inline policy name' });
    const area = h('textarea', { id: 'inline-document', 'aria-label': 'Inline policy document', spellcheck: 'false' });
    area.value = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }] }, null, 2);
    const imsg = h('div', { id: 'inline-message' });
    inlineBox.replaceChildren(
      h('ul', {}, out.policies.map((n) => h('li', {}, h('button', {
        text: n,
        onclick: async () => { const p = await api('GET', u + '/inline-policies/' + enc(n)); pname.value = n; area.value = prettyJson(p.document); },
      }), ' ', h('button', {
        class: 'danger', text: 'Delete',
        onclick: async () => { try { await api('DELETE', u + '/inline-policies/' + enc(n)); inline(); } catch (e) { showError(imsg, e); } },
      })))),
      pname, area, h('div', { class: 'row' }, h('button', {
        class: 'primary', id: 'inline-save', text: 'Save inline policy',
        onclick: async () => {
          try { await api('PUT', u + '/inline-policies/' + enc(pname.value.trim()), { document: area.value }); inline(); toast('Saved'); } catch (e) { showError(imsg, e); }
        },
      })), imsg);
  };
  await Promise.all([keys(), password(), attached(), inline()].map((p) => p.catch((e) => showError(msg, e))));
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

// ---- administration: policies ----

async function viewPolicies() {
  const box = h('div');
  const name = h('input', { id: 'policy-name', placeholder: 'policy name', 'aria-label': 'New policy name' });
  const desc = h('input', { id: 'policy-description', placeholder: 'description', 'aria-label': 'Description' });
  const area = h('textarea', { id: 'policy-document', 'aria-label': 'Policy document', spellcheck: 'false' });
  area.value = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::example-bucket/*'] }] }, null, 2);
  const msg = h('div', { id: 'policy-message' });
  const form = h('form', { class: 'card', id: 'create-policy' }, h('h2', { text: 'Create a policy' }),
    h('div', { class: 'row' }, name, desc), area,
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'policy-save', text: 'Create policy' })), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    // Checked by the server's own parser: its message says what is wrong.
    const doc = area.value;
    try { await api('POST', '/policies', { name: name.value.trim(), description: desc.value, document: doc }); toast('Policy created'); viewPolicies(); } catch (err) { showError(msg, err); }
  });
  // Would user U be allowed action A on resource R, and which statement decided.
  const simUser = h('input', { id: 'sim-user', placeholder: 'user name', 'aria-label': 'User to simulate' });
  const simAction = h('input', { id: 'sim-action', value: 's3:GetObject', 'aria-label': 'Action' });
  const simResource = h('input', { id: 'sim-resource', value: 'arn:aws:s3:::example-bucket/key', 'aria-label': 'Resource ARN', size: 40 });
  const simOut = h('div', { id: 'sim-result' });
  const sim = h('form', { class: 'card', id: 'simulate' }, h('h2', { text: 'Simulate' }),
    h('p', { class: 'muted', text: "The user's inline and attached policies, and the bucket's policy for an S3 resource. Conditions see no request context; ACLs are not simulated." }),
    h('div', { class: 'row' }, simUser, simAction, simResource, h('button', { type: 'submit', text: 'Simulate' })), simOut);
  sim.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await api('POST', '/simulate', { user: simUser.value.trim(), action: simAction.value.trim(), resource: simResource.value.trim() });
      const words = { allowed: 'Allowed', explicitDeny: 'Denied by an explicit Deny', implicitDeny: 'Denied: no statement allows it' };
      const by = r.decided_by;
      simOut.replaceChildren(h('p', { class: r.decision === 'allowed' ? 'ok' : 'error', id: 'sim-decision', text: words[r.decision] || r.decision }),
        by ? h('p', { text: 'Decided by statement ' + by.statement + (by.sid ? ' (' + by.sid + ')' : '') + ' of the ' + by.policy + '.' }) : null,
        h('p', { class: 'muted', text: 'Evaluated: ' + (r.evaluated.join(', ') || 'no policies') }));
    } catch (err) { showError(simOut, err); }
  });
  render(h('h1', { text: 'Policies' }), form, sim, box);
  const out = await api('GET', '/policies');
  box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'policies' },
    h('thead', {}, h('tr', {}, h('th', { text: 'Name' }), h('th', { class: 'wide', text: 'Description' }), h('th', { class: 'num', text: 'Attached to' }))),
    h('tbody', {}, out.policies.map((p) => h('tr', {},
      h('td', {}, h('a', { href: '#/policies/' + enc(p.name), text: p.name }), p.built_in ? ' (built in)' : ''),
      h('td', { class: 'wide', text: p.description }),
      h('td', { class: 'num', text: String(p.attachments) })))))));
}

async function viewPolicy(name) {
  const msg = h('div');
  render(h('h1', { text: 'Policy ' + name }), h('nav', { class: 'crumbs' }, h('a', { href: '#/policies', text: 'Policies' })), msg);
  const p = await api('GET', '/policies/' + enc(name));
  const area = h('textarea', { readonly: true, 'aria-label': 'Policy document' });
  area.value = prettyJson(p.document);
  main().append(h('p', { class: 'muted', text: p.arn }), h('p', { text: p.description || '' }), area,
    p.built_in ? null : h('div', { class: 'row' }, h('button', {
      class: 'danger', text: 'Delete policy',
      onclick: async () => { try { await api('DELETE', '/policies/' + enc(name)); go('#/policies'); } catch (e) { showError(msg, e); } },
    })));
}

// ---- administration: KMS keys, sessions, server ----

async function viewKms() {
  const box = h('div');
  const desc = h('input', { id: 'kms-description', placeholder: 'description', 'aria-label': 'Key description' });
  const alias = h('input', { id: 'kms-alias', placeholder: 'alias/name (optional)', 'aria-label': 'Key alias' });
  const msg = h('div');
  const form = h('form', { class: 'row', id: 'create-kms-key' }, desc, alias, h('button', { class: 'primary', type: 'submit', text: 'Create key' }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await api('POST', '/kms/keys', { description: desc.value, alias: alias.value.trim() || null }); viewKms(); } catch (err) { showError(msg, err); }
  });
  render(h('h1', { text: 'KMS keys' }), form, msg, box);
  const out = await api('GET', '/kms/keys');
  box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'kms-keys' },
    h('thead', {}, h('tr', {}, h('th', { text: 'Key' }), h('th', { text: 'State' }), h('th', { class: 'wide', text: 'Description' }), h('th'))),
    h('tbody', {}, out.keys.map((k) => h('tr', {},
      h('td', { text: k.key_id + (k.aliases.length ? ' (' + k.aliases.join(', ') + ')' : '') }),
      h('td', { text: k.state }),
      h('td', { class: 'wide', text: k.description }),
      h('td', { class: 'actions' }, k.manager === 'CUSTOMER' && (k.state === 'Enabled' || k.state === 'Disabled') ? h('button', {
        text: k.state === 'Enabled' ? 'Disable' : 'Enable',
        onclick: async () => { try { await api('PATCH', '/kms/keys/' + enc(k.key_id), { enabled: k.state !== 'Enabled' }); viewKms(); } catch (e) { showError(msg, e); } },
      }) : null)))))));
}

async function viewSessions() {
  const box = h('div');
  render(h('h1', { text: 'Console sessions' }), box);
  const out = await api('GET', '/sessions');
  box.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'sessions' },
    h('thead', {}, h('tr', {}, h('th', { text: 'Who' }), h('th', { class: 'wide', text: 'Key' }), h('th', { text: 'Since' }), h('th', { class: 'wide', text: 'Expires' }), h('th'))),
    h('tbody', {}, out.sessions.map((s) => h('tr', {},
      h('td', { text: s.principal + (s.id === state.me.session_id ? ' (this session)' : '') }),
      h('td', { class: 'wide', text: s.access_key_id + ' (' + s.method + ')' }),
      h('td', { text: fmtTime(s.created_ms) }),
      h('td', { class: 'wide', text: fmtTime(s.expires_ms) }),
      h('td', { class: 'actions' }, h('button', {
        class: 'danger', text: 'Revoke',
        onclick: async () => { try { await api('DELETE', '/sessions/' + enc(s.id)); if (s.id === state.me.session_id) showLogin(); else viewSessions(); } catch (e) { showError(box, e); } },
      }))))))));
}

async function viewServer() {
  const box = h('div');
  render(h('h1', { text: 'Server' }), box);
  const [info, buckets] = await Promise.all([api('GET', '/info'), api('GET', '/buckets')]);
  const up = info.uptime_secs;
  box.replaceChildren(
    h('dl', { class: 'props', id: 'server-info' },
      h('dt', { text: 'Version' }), h('dd', { text: info.version }),
      h('dt', { text: 'Data format' }), h('dd', { text: String(info.format) }),
      h('dt', { text: 'Up for' }), h('dd', { text: Math.floor(up / 86400) + 'd ' + Math.floor(up % 86400 / 3600) + 'h ' + Math.floor(up % 3600 / 60) + 'm' }),
      h('dt', { text: 'Data dir' }), h('dd', { text: info.data_dir })),
    h('h2', { text: 'Tiers' }),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', { text: 'Tier' }), h('th', { class: 'wide', text: 'Directory' }), h('th', { text: 'Classes' }), h('th', { class: 'num', text: 'Free' }))),
      h('tbody', {}, info.tiers.map((t) => h('tr', {}, h('td', { text: t.name }), h('td', { class: 'wide', text: t.dir }),
        h('td', { text: t.classes.join(', ') }), h('td', { class: 'num', text: t.free_bytes === null ? '' : fmtBytes(t.free_bytes) + ' of ' + fmtBytes(t.total_bytes) })))))),
    h('h2', { text: 'Storage by bucket' }),
    h('div', { class: 'table-wrap' }, h('table', { id: 'usage' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Bucket' }), h('th', { text: 'Owner' }), h('th', { class: 'num', text: 'Objects' }), h('th', { class: 'num', text: 'Bytes' }), h('th', { class: 'num wide', text: 'All versions' }))),
      h('tbody', {}, buckets.buckets.map((b) => h('tr', {}, h('td', { text: b.name }), h('td', { text: b.owner }),
        h('td', { class: 'num', text: String(b.objects) }), h('td', { class: 'num', text: fmtBytes(b.bytes) }),
        h('td', { class: 'num wide', text: b.versions + ' / ' + fmtBytes(b.version_bytes) })))))));
}

// ---- monitoring: charts from the counters /metrics exports ----

// Prometheus text: [{name, labels, value}].
function parseProm(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = Object.create(null);
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// One scrape reduced to what the charts need.
function snapshot(samples) {
  // Maps without a prototype: a bucket or operation named "constructor" is a name.
  const map = () => Object.create(null);
  const s = { t: Date.now(), requests: 0, e4: 0, e5: 0, byOp: map(), bytesIn: 0, bytesOut: 0, le: map(), buckets: map() };
  for (const x of samples) {
    if (x.name === 'ferrite_s3_requests_total') {
      s.requests += x.value;
      s.byOp[x.labels.operation] = (s.byOp[x.labels.operation] || 0) + x.value;
      const st = Number(x.labels.status);
      if (st >= 500) s.e5 += x.value; else if (st >= 400) s.e4 += x.value;
    } else if (x.name === 'ferrite_s3_received_bytes_total') s.bytesIn += x.value;
    else if (x.name === 'ferrite_s3_sent_bytes_total') s.bytesOut += x.value;
    else if (x.name === 'ferrite_s3_request_duration_seconds_bucket') s.le[x.labels.le] = (s.le[x.labels.le] || 0) + x.value;
    else if (x.name.startsWith('ferrite_bucket_') && x.labels.bucket) {
      const b = s.buckets[x.labels.bucket] || (s.buckets[x.labels.bucket] = Object.create(null));
      b[x.name.slice('ferrite_bucket_'.length)] = x.value;
    }
  }
  return s;
}

// The q-quantile of the requests between two snapshots: the upper bound of the
// histogram bucket it falls in (seconds), or null without requests.
function quantile(a, b, q) {
  const les = Object.keys(b.le).filter((k) => k !== '+Inf').map(Number).sort((x, y) => x - y);
  const total = (b.le['+Inf'] || 0) - (a.le['+Inf'] || 0);
  if (total <= 0) return null;
  for (const le of les) {
    const k = String(le);
    const key = Object.keys(b.le).find((x) => Number(x) === le) || k;
    if ((b.le[key] || 0) - (a.le[key] || 0) >= q * total) return le;
  }
  return Infinity;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const COLORS = ['#7a3b1d', '#1e6fb3', '#1e7b34', '#b3261e'];
function chart(id, title, series, fmt) {
  const w = 300;
  const ht = 120;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v) => v !== null && Number.isFinite(v))));
  const box = svg('svg', { viewBox: '0 0 ' + w + ' ' + ht, class: 'chart', role: 'img', 'aria-label': title });
  series.forEach((s, i) => {
    const pts = s.values.map((v, j) => (v === null || !Number.isFinite(v) ? null :
      ((j / Math.max(1, s.values.length - 1)) * (w - 4) + 2).toFixed(1) + ',' + (ht - 4 - (v / max) * (ht - 20)).toFixed(1))).filter(Boolean);
    if (pts.length) box.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': '2' }));
  });
  const top = svg('text', { x: '4', y: '12', 'font-size': '10', fill: '#5f6368' });
  top.textContent = 'max ' + fmt(max);
  box.append(top);
  return h('figure', { id },
    h('figcaption', {}, h('strong', { text: title }), ' ',
      series.map((s, i) => {
        const last = s.values[s.values.length - 1];
        return h('span', { class: 'legend legend-' + (i % COLORS.length), text: s.name + ': ' + (last === null || last === undefined ? '–' : fmt(last)) + ' ' });
      })),
    box);
}

// Each visit of the monitoring page polls under its own number; an older visit's
// poll stops when it sees a newer one.
let monitorRun = 0;

async function viewMonitor() {
  const run = ++monitorRun;
  const charts = h('div', { class: 'charts', id: 'charts' });
  const ops = h('div');
  const buckets = h('div');
  const msg = h('div');
  render(h('h1', { text: 'Monitoring' }), h('p', { class: 'muted', text: 'From the counters /metrics exports, read every 5 seconds while this page is open.' }),
    msg, charts, h('h2', { text: 'Requests by operation' }), ops, h('h2', { text: 'Storage by bucket' }), buckets);
  const snaps = [];
  const perSec = (f) => snaps.slice(1).map((b, i) => (f(b) - f(snaps[i])) / Math.max(0.001, (b.t - snaps[i].t) / 1000));
  const q = (p) => snaps.slice(1).map((b, i) => { const v = quantile(snaps[i], b, p); return v === null ? null : v * 1000; });
  const num = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  const ms = (v) => (Number.isFinite(v) ? num(v) + ' ms' : '> 60 s');
  const draw = () => {
    if (snaps.length < 2) { charts.replaceChildren(h('p', { class: 'muted', text: 'Collecting…' })); } else {
      charts.replaceChildren(
        chart('chart-requests', 'Requests per second', [{ name: 'all', values: perSec((s) => s.requests) }], num),
        chart('chart-errors', 'Errors per second', [{ name: '4xx', values: perSec((s) => s.e4) }, { name: '5xx', values: perSec((s) => s.e5) }], num),
        chart('chart-latency', 'Latency (bucket upper bound)', [{ name: 'p50', values: q(0.5) }, { name: 'p90', values: q(0.9) }, { name: 'p99', values: q(0.99) }], ms),
        chart('chart-bytes', 'Bytes per second', [{ name: 'in', values: perSec((s) => s.bytesIn) }, { name: 'out', values: perSec((s) => s.bytesOut) }], (v) => fmtBytes(v) + '/s'));
    }
    const last = snaps[snaps.length - 1];
    const prev = snaps.length > 1 ? snaps[snaps.length - 2] : null;
    const secs = prev ? Math.max(0.001, (last.t - prev.t) / 1000) : 0;
    ops.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'ops' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Operation' }), h('th', { class: 'num', text: 'Per second now' }), h('th', { class: 'num', text: 'Since the start' }))),
      h('tbody', {},
        Object.entries(last.byOp).sort((a, b) => b[1] - a[1]).map(([op, n]) => h('tr', {}, h('td', { text: op }),
          h('td', { class: 'num', text: prev ? num((n - (prev.byOp[op] || 0)) / secs) : '–' }),
          h('td', { class: 'num', text: String(n) })))))));
    buckets.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'bucket-usage' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Bucket' }), h('th', { class: 'num', text: 'Objects' }), h('th', { class: 'num', text: 'Current bytes' }), h('th', { class: 'num', text: 'All versions' }))),
      h('tbody', {}, Object.entries(last.buckets).map(([name, b]) => h('tr', {}, h('td', { text: name }),
        h('td', { class: 'num', text: String(b.objects || 0) }), h('td', { class: 'num', text: fmtBytes(b.object_bytes || 0) }),
        h('td', { class: 'num', text: fmtBytes(b.stored_bytes || 0) })))))));
  };
  const tick = async () => {
    if (location.hash !== '#/monitor' || run !== monitorRun) return;
    try {
      const out = await api('GET', '/metrics');
      snaps.push(snapshot(parseProm(out.prometheus)));
      if (snaps.length > 61) snaps.shift();
      msg.replaceChildren();
      draw();
    } catch (e) { showError(msg, e); return; }
    setTimeout(tick, snaps.length < 2 ? 1000 : 5000);
  };
  tick();
}

// ---- start ----

window.addEventListener('hashchange', route);
(async () => {
  try {
    const me = await api('GET', '/session');
    state.me = me;
    state.csrf = me.csrf_token;
  } catch (_) {
    state.me = null;
  }
  route();
})();
