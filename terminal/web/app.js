// The browser terminal: it asks the Cosigner API for signatures and sends the bytes straight
// to COS with them, through a POST Object form. It never sees a COS key; the bearer token is
// kept in this tab's session storage only.
//
// Limitation: one form per file, so a file goes in one request (COS takes forms up to 5 GB)
// and an interrupted upload starts again from the beginning; the `cosigner` command is the
// terminal for large files, with multipart uploads that resume.
//
// Every piece of text that comes from a user or a server (file names, error messages) is put
// on the page as text, never as markup.

const PAGE_SIZE = 20;
// Files sent to COS at the same time.
const PARALLEL_UPLOADS = 3;

const $ = (id) => document.getElementById(id);

const session = { api: '', token: '', cursor: null };

/** An error in the API's one shape: `{"error": {"code", "message", "request_id"}}`. */
class ApiError extends Error {
  constructor(status, error) {
    super(`${error.message} (${error.code}, request ${error.request_id})`);
    this.status = status;
    this.code = error.code;
  }
}

/** Calls the API as the connected user; answers the parsed JSON, or null for a 204. */
async function call(method, path, body) {
  const init = { method, headers: { authorization: `Bearer ${session.token}` } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(session.api + path, init);
  } catch (err) {
    throw new Error(`cannot reach the API at ${session.api}: ${err.message}`);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: a proxy's page, say. The status alone is reported.
  }
  if (!response.ok) {
    if (json && json.error) throw new ApiError(response.status, json.error);
    throw new Error(`the API answered ${method} ${path} with status ${response.status}`);
  }
  return json;
}

function showError(err) {
  $('error').textContent = err.message;
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

/** Decimal units, as storage is sold: 1 kB = 1000 bytes. */
function humanSize(bytes) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit]}`;
}

async function connect(event) {
  event.preventDefault();
  clearError();
  session.api = $('api-url').value.trim().replace(/\/+$/, '');
  session.token = $('token').value.trim();
  try {
    await refreshAccount();
  } catch (err) {
    showError(err);
    return;
  }
  localStorage.setItem('cosigner.api', session.api);
  sessionStorage.setItem('cosigner.token', session.token);
  for (const id of ['account', 'uploads', 'library']) $(id).hidden = false;
  $('connect').hidden = true;
  await refreshFiles();
}

async function refreshAccount() {
  const me = await call('GET', '/v1/me');
  const bar = $('quota-bar');
  bar.max = Math.max(me.quota_bytes, 1);
  bar.value = me.used_bytes + me.reserved_bytes;
  $('quota-text').textContent =
    `${humanSize(me.used_bytes)} used of ${humanSize(me.quota_bytes)}, ` +
    `${humanSize(me.reserved_bytes)} reserved for uploads, ` +
    `${humanSize(me.available_bytes)} available; ` +
    `${me.file_count} ${me.file_count === 1 ? 'file' : 'files'}`;
}

/** Shows the newest page of files again, or appends the next page. */
async function refreshFiles(more = false) {
  let path = `/v1/files?limit=${PAGE_SIZE}`;
  if (more && session.cursor) path += `&cursor=${encodeURIComponent(session.cursor)}`;
  const page = await call('GET', path);
  const rows = $('file-rows');
  if (!more) rows.replaceChildren();
  for (const file of page.files) rows.append(fileRow(file));
  session.cursor = page.next_cursor || null;
  $('more').hidden = !session.cursor;
  $('no-files').hidden = rows.children.length > 0;
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function button(label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', async () => {
    clearError();
    b.disabled = true;
    try {
      await onClick();
    } catch (err) {
      showError(err);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function fileRow(file) {
  const tr = document.createElement('tr');
  tr.dataset.fileId = file.file_id;
  tr.dataset.state = file.state;
  tr.append(
    cell(file.name),
    cell(humanSize(file.size)),
    cell(file.state),
    cell(new Date(file.created_at * 1000).toLocaleString()),
  );
  const actions = document.createElement('td');
  if (file.state === 'ready') {
    actions.append(button('Download', () => download(file.file_id)));
  }
  actions.append(button('Delete', () => remove(file.file_id, tr)));
  tr.append(actions);
  return tr;
}

async function download(id) {
  const file = await call('GET', `/v1/files/${encodeURIComponent(id)}`);
  if (!file.url) throw new Error(`${file.name} is ${file.state}: there is nothing to download yet`);
  // The signed URL asks COS for `Content-Disposition: attachment` with the original name, so
  // the browser saves the file and this page stays.
  const link = document.createElement('a');
  link.href = file.url;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
}

async function remove(id, row) {
  await call('DELETE', `/v1/files/${encodeURIComponent(id)}`);
  row.remove();
  $('no-files').hidden = $('file-rows').children.length > 0;
  await refreshAccount();
}

/** One line per file being sent: its name, a progress bar and what is happening. */
function transferRow(file) {
  const li = document.createElement('li');
  li.dataset.name = file.name;
  li.dataset.state = 'signing';
  const name = document.createElement('span');
  name.textContent = file.name;
  const progress = document.createElement('progress');
  progress.max = 1;
  progress.value = 0;
  const status = document.createElement('span');
  status.className = 'status';
  status.textContent = 'asking for a signature';
  li.append(name, progress, status);
  $('transfers').prepend(li);
  return {
    step(state, text) {
      li.dataset.state = state;
      status.textContent = text;
    },
    progress(fraction) {
      progress.value = fraction;
      status.textContent = `sending, ${Math.floor(fraction * 100)}%`;
    },
  };
}

/** What COS said when it refused a form, from its XML error if it could be read. */
function cosRefusal(xhr) {
  const xml = new DOMParser().parseFromString(xhr.responseText || '', 'application/xml');
  const code = xml.querySelector('Error > Code')?.textContent;
  const message = xml.querySelector('Error > Message')?.textContent;
  const said = code ? `: ${code}${message ? `, ${message}` : ''}` : '';
  return `COS refused the upload with status ${xhr.status}${said}`;
}

/** Posts the signed form, the file last, reporting progress. */
function postForm(issued, file, onProgress) {
  const form = new FormData();
  for (const field of issued.fields) form.append(field.name, field.value);
  form.append('file', file);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', issued.url);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new Error(cosRefusal(xhr)));
    });
    xhr.addEventListener('error', () => reject(new Error('COS could not be reached')));
    xhr.send(form);
  });
}

async function uploadOne(file) {
  const row = transferRow(file);
  let issued;
  try {
    issued = await call('POST', '/v1/uploads', {
      name: file.name,
      size: file.size,
      content_type: file.type || 'application/octet-stream',
      method: 'post',
    });
    await postForm(issued, file, (fraction) => row.progress(fraction));
    row.step('confirming', 'confirming with COS');
    await call('POST', `/v1/uploads/${issued.file_id}/complete`);
    row.step('ready', 'ready');
  } catch (err) {
    row.step('failed', `failed: ${err.message}`);
    if (issued) {
      // Give the reservation back at once rather than when the signature's window closes.
      await call('DELETE', `/v1/uploads/${issued.file_id}`).catch(() => {});
    }
    throw err;
  }
}

async function upload(event) {
  event.preventDefault();
  clearError();
  const queue = [...$('files-to-upload').files];
  const failures = [];
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      await uploadOne(file).catch((err) => failures.push(`${file.name}: ${err.message}`));
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_UPLOADS }, worker));
  $('upload').reset();
  if (failures.length) showError(new Error(failures.join('\n')));
  try {
    await Promise.all([refreshAccount(), refreshFiles()]);
  } catch (err) {
    showError(err);
  }
}

function start() {
  $('api-url').value = localStorage.getItem('cosigner.api') || window.location.origin;
  $('token').value = sessionStorage.getItem('cosigner.token') || '';
  $('connect').addEventListener('submit', connect);
  $('upload').addEventListener('submit', upload);
  $('more').addEventListener('click', () => refreshFiles(true).catch(showError));
  if ($('token').value) $('connect').requestSubmit();
}

start();
