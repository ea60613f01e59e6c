// medr1 report: thumbnails, filters, paging, chart legends. Inlined into every report page;
// no network, no libraries. Any script error is shown at the top of the page.
(function () {
  "use strict";
  var errors = [];
  function showError(message) {
    errors.push(String(message));
    document.body.setAttribute("data-script-errors", String(errors.length));
    var box = document.getElementById("medr1-errors");
    if (box) {
      box.hidden = false;
      box.textContent = "Script error(s) in this report: " + errors.join(" | ");
    }
  }
  window.addEventListener("error", function (e) {
    showError((e.message || "error") + (e.lineno ? " (line " + e.lineno + ")" : ""));
  });
  window.addEventListener("unhandledrejection", function (e) { showError(e.reason); });
  document.body.setAttribute("data-script-errors", "0");

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : {};
  }

  // -- thumbnails: every image is stored once in the page and shared by the <img> that show it
  function fillImages() {
    var table = readJson("medr1-images");
    var imgs = document.querySelectorAll("img[data-image]");
    var pending = [];
    imgs.forEach(function (img) {
      var src = table[img.getAttribute("data-image")];
      if (src) {
        img.src = src;
        pending.push(img.decode ? img.decode().catch(function () {}) : Promise.resolve());
      }
      img.addEventListener("click", function () { img.classList.toggle("big"); });
    });
    return Promise.all(pending).then(function () {
      var shown = 0;
      imgs.forEach(function (img) { if (img.naturalWidth > 0) { shown += 1; } });
      return shown;
    });
  }

  // -- filters and paging of the item lists (completions, questions)
  var PAGE = 40;
  function setupList(list) {
    var section = list.closest("section") || document;
    var selects = Array.prototype.slice.call(section.querySelectorAll("select[data-filter]"));
    var items = Array.prototype.slice.call(list.querySelectorAll(":scope > .item"));
    var count = section.querySelector(".count");
    var more = section.querySelector("button.more");
    var limit = PAGE;

    function entryMatches(entry, outcome) {
      var tokens = (entry.getAttribute("data-outcomes") || "").split(" ");
      return tokens.indexOf(outcome) >= 0;
    }

    function apply() {
      var wanted = {};
      selects.forEach(function (s) { if (s.value) { wanted[s.getAttribute("data-filter")] = s.value; } });
      var matching = 0;
      items.forEach(function (item) {
        var ok = true;
        Object.keys(wanted).forEach(function (key) {
          if (key !== "outcome" && item.getAttribute("data-" + key) !== wanted[key]) { ok = false; }
        });
        var entries = item.querySelectorAll(".entry");
        if (ok && wanted.outcome) {
          if (entries.length) {
            var any = false;
            entries.forEach(function (e) {
              var hit = entryMatches(e, wanted.outcome);
              e.hidden = !hit;
              any = any || hit;
            });
            ok = any;
          } else {
            ok = entryMatches(item, wanted.outcome);
          }
        } else {
          entries.forEach(function (e) { e.hidden = false; });
        }
        if (ok) { matching += 1; }
        item.hidden = !ok || matching > limit;
      });
      var shown = Math.min(matching, limit);
      if (count) { count.textContent = "showing " + shown + " of " + matching + " matching (" + items.length + " in all)"; }
      if (more) {
        more.hidden = matching <= limit;
        more.textContent = "show " + Math.min(PAGE, matching - limit) + " more";
      }
    }
    // a link can carry filters: report.html#modality=ct&outcome=format:full
    var preset = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var kv = pair.split("=");
      if (kv.length === 2) { preset[decodeURIComponent(kv[0])] = decodeURIComponent(kv[1]); }
    });
    selects.forEach(function (s) {
      var key = s.getAttribute("data-filter");
      if (key in preset && Array.prototype.some.call(s.options, function (o) { return o.value === preset[key]; })) {
        s.value = preset[key];
      }
      s.addEventListener("change", function () { limit = PAGE; apply(); });
    });
    if (more) { more.addEventListener("click", function () { limit += PAGE; apply(); }); }
    apply();
  }

  // -- chart legends: click a series' name to hide or show its line
  function setupCharts() {
    var charts = document.querySelectorAll("figure.chart");
    charts.forEach(function (fig) {
      fig.querySelectorAll(".legend [data-series]").forEach(function (key) {
        key.addEventListener("click", function () {
          var id = key.getAttribute("data-series");
          var off = key.classList.toggle("off");
          fig.querySelectorAll('svg [data-series="' + id + '"]').forEach(function (el) {
            el.style.display = off ? "none" : "";
          });
        });
      });
    });
    return charts.length;
  }

  try {
    document.querySelectorAll(".items").forEach(setupList);
    var charts = setupCharts();
    fillImages().then(function (shown) {
      var status = document.getElementById("medr1-status");
      if (status) { status.textContent = charts + " chart(s), " + shown + " image(s) shown."; }
      document.body.setAttribute("data-images-shown", String(shown));
      document.body.setAttribute("data-rendered", "1");
    });
  } catch (e) {
    showError(e && e.message ? e.message : e);
  }
})();
