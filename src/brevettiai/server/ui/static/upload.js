/* Dataset uploads: each chosen file is PUT to the dataset's upload route (with the session's CSRF
   token in a header), one after the other, with a progress bar over all of them. */
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (!form) { return; }
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  var input = document.getElementById('upload-files');
  var progress = document.getElementById('upload-progress');
  var wrap = form.querySelector('.progress-wrap');
  var status = document.getElementById('upload-status');
  var button = form.querySelector('button[type="submit"]');
  var base = form.getAttribute('data-upload-url');
  var folder = form.getAttribute('data-folder');

  function encodePath(path) {
    return path.split('/').map(encodeURIComponent).join('/');
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var files = Array.prototype.slice.call(input.files);
    if (!files.length) {
      status.textContent = 'Choose one or more files first.';
      input.focus();
      return;
    }
    var total = files.reduce(function (sum, file) { return sum + file.size; }, 0) || 1;
    var done = 0;
    var index = 0;
    var failed = [];
    wrap.hidden = false;
    button.disabled = true;

    function setProgress(bytes) {
      var percent = Math.min(100, Math.round(100 * bytes / total));
      progress.value = percent;
      progress.textContent = percent + '%';
    }

    function finish() {
      button.disabled = false;
      setProgress(total);
      var uploaded = files.length - failed.length;
      status.textContent = 'Uploaded ' + uploaded + ' of ' + files.length + ' file' + (files.length === 1 ? '' : 's') + '.' +
        (failed.length ? ' Failed: ' + failed.join('; ') : '');
      form.setAttribute('data-done', failed.length ? 'error' : 'true');
      if (!failed.length) { window.setTimeout(function () { window.location.reload(); }, 400); }
    }

    function next() {
      if (index >= files.length) { finish(); return; }
      var file = files[index];
      index += 1;
      status.textContent = 'Uploading ' + file.name + ' (' + index + ' of ' + files.length + ')…';
      var xhr = new XMLHttpRequest();
      xhr.open('PUT', base + encodePath((folder ? folder + '/' : '') + file.name));
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) { setProgress(done + e.loaded); } };
      xhr.onload = function () {
        if (xhr.status < 200 || xhr.status >= 300) {
          var detail = 'HTTP ' + xhr.status;
          try { detail = JSON.parse(xhr.responseText).detail || detail; } catch (ignored) { /* not JSON */ }
          failed.push(file.name + ': ' + detail);
        }
        done += file.size;
        setProgress(done);
        next();
      };
      xhr.onerror = function () {
        failed.push(file.name + ': the connection failed');
        done += file.size;
        next();
      };
      xhr.send(file);
    }

    next();
  });
}());
