/* The model page: live status and progress charts (polling live.json every second), and the job's own
   Vega-Lite charts. Charts render as SVG with Vega's expression interpreter (no eval: the page's CSP
   allows none), and may only load data from the job's artifacts. */
(function () {
  'use strict';
  var root = document.getElementById('job');
  if (!root) { return; }
  var liveUrl = root.getAttribute('data-live-url');
  var terminalAtLoad = root.getAttribute('data-terminal') === 'true';
  var artifactsBase = root.getAttribute('data-artifacts-base');
  var hasVega = typeof window.vegaEmbed === 'function' && typeof window.vega === 'object';

  if (window.history && window.history.replaceState && window.location.search.indexOf('created=') >= 0) {
    window.history.replaceState(null, '', window.location.pathname);  // the key is shown once: not on reload
  }

  function embedOptions() {
    return {actions: false, renderer: 'svg', ast: true, logLevel: vega.Error,
            loader: vega.loader({baseURL: artifactsBase}), config: {font: 'system-ui, sans-serif'}};
  }

  // The charts the job uploaded -----------------------------------------------------------------------
  var specsElement = document.getElementById('job-charts');
  if (specsElement && hasVega) {
    var specs = JSON.parse(specsElement.textContent);
    Array.prototype.forEach.call(document.querySelectorAll('.vega-chart[data-chart]'), function (element) {
      var spec = specs[element.getAttribute('data-chart')];
      vegaEmbed(element, spec, embedOptions()).then(function () {
        element.setAttribute('data-rendered', 'true');
      }).catch(function (error) {
        element.setAttribute('data-rendered', 'error');
        element.textContent = 'This chart could not be drawn: ' + error.message;
      });
    });
  }

  // Progress charts from the metric points ----------------------------------------------------------------
  var series = {};      // metric name -> {step: [step, value, time]}
  var newest = null;    // the latest point time seen (epoch seconds)
  var charts = {};      // group -> {element, view, pending}
  var container = document.getElementById('progress-charts');
  var empty = document.getElementById('progress-empty');

  function groupOf(name) {  // train_loss and test_loss share the "loss" chart
    var cut = name.lastIndexOf('_');
    return cut > 0 && cut < name.length - 1 ? name.slice(cut + 1) : name;
  }

  function merge(update) {
    Object.keys(update || {}).forEach(function (name) {
      var points = series[name] || (series[name] = {});
      update[name].forEach(function (point) {
        points[point[0]] = point;
        if (point[2] !== null && (newest === null || point[2] > newest)) { newest = point[2]; }
      });
    });
  }

  function rowsOf(group) {
    var rows = [];
    Object.keys(series).forEach(function (name) {
      if (groupOf(name) !== group) { return; }
      Object.keys(series[name]).forEach(function (step) {
        var point = series[name][step];
        rows.push({step: point[0], value: point[1], metric: name});
      });
    });
    rows.sort(function (a, b) { return a.step - b.step; });
    return rows;
  }

  function specFor(group) {
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: group, width: 'container', height: 200, autosize: {type: 'fit-x', contains: 'padding'},
      data: {name: 'points'},
      mark: {type: 'line', tooltip: true, interpolate: 'linear'},
      encoding: {
        x: {field: 'step', type: 'quantitative', title: 'step'},
        y: {field: 'value', type: 'quantitative', title: group, scale: {zero: false}},
        color: {field: 'metric', type: 'nominal', title: null, legend: {orient: 'bottom'}}
      }
    };
  }

  function draw() {
    var groups = {};
    Object.keys(series).sort().forEach(function (name) { groups[groupOf(name)] = true; });
    var names = Object.keys(groups);
    if (names.length && empty) { empty.hidden = true; }
    names.forEach(function (group) {
      var chart = charts[group];
      if (!chart) {
        var figure = document.createElement('figure');
        figure.className = 'chart-figure';
        var element = document.createElement('div');
        element.className = 'progress-chart';
        element.setAttribute('data-group', group);
        element.setAttribute('role', 'img');
        element.setAttribute('aria-label', 'Progress chart of ' + group);
        figure.appendChild(element);
        container.appendChild(figure);
        chart = charts[group] = {element: element, view: null, pending: true};
        if (!hasVega) { element.textContent = 'Charts need the vendored Vega scripts.'; return; }
        vegaEmbed(element, specFor(group), embedOptions()).then(function (result) {
          chart.view = result.view;
          chart.pending = false;
          update(group);
        }).catch(function (error) { element.textContent = 'The chart could not be drawn: ' + error.message; });
        return;
      }
      if (!chart.pending) { update(group); }
    });
  }

  function update(group) {
    var chart = charts[group];
    var rows = rowsOf(group);
    chart.view.data('points', rows).runAsync().then(function () {
      chart.element.setAttribute('data-points', String(rows.length));
    });
  }

  // Status ----------------------------------------------------------------------------------------------
  var statusElement = document.getElementById('job-status');

  function showTime(id, value) {
    var element = document.getElementById(id);
    if (!element || !value) { return; }
    var time = document.createElement('time');
    time.setAttribute('datetime', value);
    time.textContent = value.replace('T', ' ').replace('Z', '');
    element.textContent = '';
    element.appendChild(time);
  }

  function showStatus(data) {
    if (statusElement && statusElement.textContent !== data.status) {
      statusElement.textContent = data.status;
      statusElement.className = 'status status-' + data.status;
      root.setAttribute('data-status', data.status);
    }
    showTime('job-started', data.started);
    showTime('job-completed', data.completed);
  }

  function finished() {
    // The results (artifacts, charts, reports, errors) are drawn by the server: load the page again,
    // unless it shows the job key, which would be gone.
    if (!document.getElementById('job-key')) { window.location.reload(); return; }
    var note = document.createElement('p');
    note.className = 'flash';
    note.setAttribute('role', 'status');
    note.appendChild(document.createTextNode('The job has ended. '));
    var link = document.createElement('a');
    link.href = window.location.pathname;
    link.textContent = 'Reload the page to see its results';
    note.appendChild(link);
    root.parentNode.insertBefore(note, root.nextSibling);
  }

  function poll() {
    var url = liveUrl + (newest === null ? '' : '?since=' + encodeURIComponent(String(newest - 5)));
    fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}, cache: 'no-store'})
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = '/login?next=' + encodeURIComponent(window.location.pathname);
          throw new Error('logged out');
        }
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.json();
      })
      .then(function (data) {
        merge(data.series);
        draw();
        showStatus(data);
        if (data.terminal) {
          if (!terminalAtLoad) { finished(); }
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function (error) {
        if (error.message !== 'logged out') { window.setTimeout(poll, 3000); }
      });
  }

  poll();
}());
