/*
 * QuickDumpNow single-page shell: picks a view from the viewer path and renders it.
 *
 * Every value that comes from an API response or from the URL is written with textContent or
 * setAttribute, never parsed as HTML: a customer name may contain markup, and on this page it
 * must stay text. The static structure of each view lives in <template> elements in index.html.
 *
 * Plain browser JavaScript with no build step, so the staged file is the file that runs.
 */
(function () {
  "use strict";

  // Tokens are at least 128 bits of URL-safe base64 (22 characters); 64 leaves room for longer
  // ones. The track API enforces the same pattern, so a token failing it can never be found and
  // the page answers without a network call.
  var TOKEN_RE = /^[A-Za-z0-9_-]{22,64}$/;

  var TRACK_API = "/api/track/";
  var BOOK_API = "/api/book";
  var JOBS_API = "/api/jobs";

  // The routes the edge rewrites onto this shell (plugins/qdn/routes.py holds the same table).
  var ROUTE_PREFIXES = ["/track/", "/book/", "/dashboard/"];

  var TEXT = {
    notFound: "Job not found, or this tracking link is no longer valid",
    trackUnreachable:
      "We couldn't reach the tracking service. Check your connection and try again.",
    trackBadCode: "That doesn't look like a tracking code. Paste the whole link from your message.",
    bookUnreachable:
      "We couldn't send your booking. Check your connection and try again.",
    bookRejected: "We couldn't accept this booking. Check the highlighted fields.",
    dashUnreachable:
      "We couldn't reach the dispatch service. Check your connection and try again.",
    dashUnauthorized: "That dispatcher key was not accepted. Enter a valid key.",
    dashDisabled: "The dispatch dashboard is turned off on this site.",
    dashBadFilter: "Those filters were not accepted. Change them and try again.",
  };

  // Job statuses in the order of the work, with their labels: the job model's JobStatus and
  // STATUS_LABELS (plugins/qdn/jobs/model.py), which a static test keeps equal to these. The
  // dashboard's status filter offers them; the jobs API accepts exactly these values.
  var STATUS_LABELS = {
    booked: "Booked",
    scheduled: "Scheduled",
    delivered: "Delivered",
    ready_for_pickup: "Ready for pickup",
    picked_up: "Picked up",
    completed: "Completed",
    cancelled: "Cancelled",
  };

  // Booking rules and messages: the same ones the booking API applies (site/api/qdn_api), so a
  // customer sees the same sentence whether the page or the server caught the mistake. The
  // browser tests submit the same inputs to both and compare.
  var BOOKING_FIELDS = [
    "name",
    "phone",
    "email",
    "address",
    "service_date",
    "dumpster_size",
    "notes",
  ];
  var BOOKING_MESSAGES = {
    name: "Enter your name.",
    phone: "Enter a phone number with 7 to 15 digits.",
    email: "Enter a valid email address, or leave it empty.",
    address: "Enter the delivery address (5 to 200 characters).",
    service_date: "Choose a service date from today up to a year ahead.",
    dumpster_size: "Choose a dumpster size.",
    notes: "Keep notes under 500 characters.",
  };
  var NAME_MAX = 100;
  var ADDRESS_MIN = 5;
  var ADDRESS_MAX = 200;
  var EMAIL_MAX = 254; // the longest address SMTP can carry (RFC 5321 path limit)
  var NOTES_MAX = 500;
  // Control characters (Unicode Cc) are refused as a job refuses them; notes keep line breaks.
  var CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
  var NOTES_CONTROL_RE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
  var PHONE_DIGITS_RE = /^[0-9]{7,15}$/; // 15: the longest E.164 number; 7: shortest local one
  var PHONE_SEPARATORS_RE = /[\s\-.()]/g;
  var EMAIL_RE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
  var DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
  var BOOKING_HORIZON_DAYS = 365; // bookings are taken up to a year ahead
  var DUMPSTER_SIZES = ["10", "15", "20", "30"];

  // sessionStorage, not localStorage: the key leaves with the tab.
  var KEY_STORAGE = "qdn.dispatcherKey";

  /* ---------- small helpers ---------- */

  function str(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  // Length in code points, as the server's Python len() counts, not UTF-16 units.
  function charCount(value) {
    return Array.from(value).length;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = str(text);
    return node;
  }

  // A message box for the customer: "warn" and "error" are announced at once, "info" politely.
  function notice(kind, message, retry) {
    var box = el("div", "notice notice-" + kind);
    box.setAttribute("role", kind === "info" ? "status" : "alert");
    box.appendChild(el("p", "notice-text", message));
    if (retry) {
      var button = el("button", "button button-primary", "Retry");
      button.type = "button";
      button.setAttribute("data-retry", "");
      button.addEventListener("click", retry);
      box.appendChild(button);
    }
    return box;
  }

  function cloneTemplate(id) {
    return document.getElementById(id).content.cloneNode(true);
  }

  function fill(root, field, value) {
    var node = root.querySelector('[data-field="' + field + '"]');
    if (node) node.textContent = str(value);
    return node;
  }

  function mainEl() {
    return document.getElementById("main");
  }

  function showView(templateId) {
    var main = mainEl();
    main.replaceChildren(cloneTemplate(templateId));
    return main;
  }

  // In the viewer's own locale; a browser without Intl support gets the fallback text instead.
  function localized(when, options, fallback) {
    try {
      return new Intl.DateTimeFormat(undefined, options).format(when);
    } catch (e) {
      return fallback;
    }
  }

  function formatDate(isoDate) {
    var m = DATE_RE.exec(str(isoDate));
    if (!m) return str(isoDate);
    var when = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return localized(
      when,
      { weekday: "long", year: "numeric", month: "long", day: "numeric", timeZone: "UTC" },
      str(isoDate)
    );
  }

  function formatDateTime(iso) {
    var when = new Date(str(iso));
    if (isNaN(when.getTime())) return str(iso);
    return localized(
      when,
      { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" },
      when.toISOString()
    );
  }

  function formatPrice(price, currency) {
    if (price === null || price === undefined || price === "") return "";
    var amount = Number(price);
    if (isNaN(amount)) return str(price) + (currency ? " " + str(currency) : "");
    try {
      return new Intl.NumberFormat(undefined, {
        style: "currency",
        currency: str(currency) || "USD",
      }).format(amount);
    } catch (e) {
      return amount.toFixed(2) + (currency ? " " + str(currency) : "");
    }
  }

  // Status names become a data attribute for styling; anything unexpected falls back to "other".
  function statusKey(status) {
    var s = str(status);
    return /^[a-z_]{1,40}$/.test(s) ? s : "other";
  }

  function todayUtc() {
    return new Date().toISOString().slice(0, 10);
  }

  function addDaysUtc(isoDate, days) {
    var m = DATE_RE.exec(isoDate);
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + days)).toISOString().slice(0, 10);
  }

  function isRealDate(value) {
    var m = DATE_RE.exec(value);
    if (!m) return false;
    var year = +m[1];
    if (year < 1000) return false; // Date.UTC maps years below 100 onto the 1900s
    var d = new Date(Date.UTC(year, +m[2] - 1, +m[3]));
    return d.toISOString().slice(0, 10) === value;
  }

  /* ---------- routing ---------- */

  function isRoute(path) {
    return ROUTE_PREFIXES.some(function (prefix) {
      return path.indexOf(prefix) === 0 || path === prefix.slice(0, -1);
    });
  }

  // The browser keeps the viewer URL, so location.pathname is the route. The edge also passes the
  // viewer path as original_path; it is only consulted when the page was opened as the shell
  // itself (/ or /index.html), e.g. through a link that points at the rewritten URL.
  function viewerPath() {
    var path = location.pathname;
    if (path !== "/" && path !== "/index.html") return path;
    var original = new URLSearchParams(location.search).get("original_path");
    if (original && isRoute(original)) return original;
    return path;
  }

  function tokenFromPath(path) {
    var raw = path.slice("/track/".length).replace(/\/+$/, "");
    try {
      return decodeURIComponent(raw);
    } catch (e) {
      return raw; // a broken %-escape is simply not a valid token
    }
  }

  function markNav(name) {
    document.querySelectorAll("[data-nav]").forEach(function (link) {
      if (link.getAttribute("data-nav") === name) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
  }

  function route() {
    var path = viewerPath();
    var token = path.indexOf("/track/") === 0 ? tokenFromPath(path) : "";
    if (token !== "") {
      markNav("track");
      renderTrack(token);
    } else if (path === "/book" || path.indexOf("/book/") === 0) {
      markNav("book");
      renderBook();
    } else if (path === "/dashboard" || path.indexOf("/dashboard/") === 0) {
      markNav("");
      renderDashboard();
    } else {
      markNav("");
      renderHome(path.indexOf("/track") === 0);
    }
  }

  /* ---------- build id ---------- */

  function showBuildId() {
    var meta = document.querySelector('meta[name="qdn-build-id"]');
    var id = meta ? str(meta.getAttribute("content")) : "";
    var unstaged = id === "" || /^__[A-Z_]+__$/.test(id);
    var holder = document.querySelector("[data-build-id]");
    if (!holder) return;
    holder.setAttribute("data-build-id", id);
    holder.querySelector(".build-id").textContent = unstaged ? "unstaged build" : id;
  }

  /* ---------- home ---------- */

  // People paste the whole tracking link as often as the code, so accept both.
  function tokenFromInput(value) {
    var text = str(value).trim();
    var at = text.lastIndexOf("/track/");
    if (at !== -1) text = text.slice(at + "/track/".length);
    text = text.split(/[?#]/)[0].replace(/\/+$/, "");
    return text;
  }

  function renderHome(focusTrack) {
    document.title = "QuickDumpNow: dumpster rental";
    var main = showView("view-home");
    var form = main.querySelector("[data-track-form]");
    var input = form.querySelector("#track-token");
    var error = form.querySelector("#track-token-error");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var token = tokenFromInput(input.value);
      if (!TOKEN_RE.test(token)) {
        error.textContent = TEXT.trackBadCode;
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      location.assign("/track/" + encodeURIComponent(token));
    });
    input.addEventListener("input", function () {
      error.hidden = true;
      input.removeAttribute("aria-invalid");
    });
    if (focusTrack || location.hash === "#track") input.focus();
  }

  /* ---------- tracking ---------- */

  function renderTrack(token) {
    document.title = "Track your dumpster · QuickDumpNow";
    var main = showView("view-track");
    var result = main.querySelector("[data-track-result]");
    loadTrack(result, token);
  }

  function trackMessage(result, kind, message, retry) {
    var box = notice(kind === "not_found" ? "warn" : "error", message, retry);
    box.querySelector(".notice-text").setAttribute("data-track-error", kind);
    if (!retry) {
      var help = el("p", "notice-help");
      help.appendChild(document.createTextNode("Check the link in your confirmation message, or "));
      var home = el("a", "", "enter your tracking code again");
      home.href = "/#track";
      help.appendChild(home);
      help.appendChild(document.createTextNode("."));
      box.appendChild(help);
    }
    result.replaceChildren(box);
    result.setAttribute("aria-busy", "false");
  }

  function loadTrack(result, token) {
    result.setAttribute("aria-busy", "true");
    result.replaceChildren(el("p", "loading", "Looking up your dumpster…"));
    var retry = function () {
      loadTrack(result, token);
    };
    if (!TOKEN_RE.test(token)) {
      trackMessage(result, "not_found", TEXT.notFound);
      return;
    }
    fetch(TRACK_API + encodeURIComponent(token), {
      headers: { Accept: "application/json" },
      credentials: "omit",
    })
      .then(function (response) {
        if (response.status === 404 || response.status === 400) {
          trackMessage(result, "not_found", TEXT.notFound);
          return null;
        }
        if (!response.ok) {
          trackMessage(result, "unavailable", TEXT.trackUnreachable, retry);
          return null;
        }
        return response.json().then(function (body) {
          if (!body || typeof body.job !== "object" || body.job === null) {
            throw new Error("track response without a job");
          }
          renderJob(result, body.job);
        });
      })
      .catch(function () {
        trackMessage(result, "unavailable", TEXT.trackUnreachable, retry);
      });
  }

  function renderJob(result, job) {
    var view = cloneTemplate("track-job");
    fill(view, "reference", job.reference);
    var badge = fill(view, "status_label", job.status_label || job.status);
    badge.setAttribute("data-status", statusKey(job.status));
    fill(view, "customer_name", job.customer_name);
    var date = fill(view, "service_date", formatDate(job.service_date));
    date.setAttribute("datetime", str(job.service_date));
    fill(view, "location", job.location);

    var timeline = view.querySelector('[data-field="history"]');
    var history = Array.isArray(job.history) ? job.history : [];
    history.forEach(function (entry, index) {
      var item = el("li", "timeline-item");
      item.setAttribute("data-status", statusKey(entry && entry.status));
      var label = el("span", "timeline-label", (entry && (entry.label || entry.status)) || "");
      var when = el("time", "timeline-time", formatDateTime(entry && entry.at));
      when.setAttribute("datetime", str(entry && entry.at));
      item.appendChild(label);
      item.appendChild(when);
      if (index === history.length - 1) {
        item.classList.add("is-current");
        item.setAttribute("aria-current", "step");
      }
      timeline.appendChild(item);
    });
    if (history.length === 0) timeline.appendChild(el("li", "timeline-item", "No updates yet."));

    var updated = view.querySelector('[data-field="updated_at"]');
    if (job.updated_at) {
      updated.textContent = formatDateTime(job.updated_at);
      updated.setAttribute("datetime", str(job.updated_at));
    } else {
      updated.parentNode.hidden = true;
    }

    if (job.reference) document.title = "Job " + str(job.reference) + " · QuickDumpNow";
    result.replaceChildren(view);
    result.setAttribute("aria-busy", "false");
  }

  /* ---------- booking ---------- */

  // The page's copy of the booking API's rules. Returns {field: message} for every failing field.
  function validateBooking(values, today) {
    var errors = {};
    var name = str(values.name).trim();
    if (name === "" || charCount(name) > NAME_MAX || CONTROL_RE.test(name)) {
      errors.name = BOOKING_MESSAGES.name;
    }

    var phone = str(values.phone).replace(PHONE_SEPARATORS_RE, "");
    if (phone.charAt(0) === "+") phone = phone.slice(1);
    if (!PHONE_DIGITS_RE.test(phone)) errors.phone = BOOKING_MESSAGES.phone;

    var email = str(values.email).trim();
    var emailBad = charCount(email) > EMAIL_MAX || !EMAIL_RE.test(email) || CONTROL_RE.test(email);
    if (email !== "" && emailBad) {
      errors.email = BOOKING_MESSAGES.email;
    }

    var address = str(values.address).trim();
    var addressLength = charCount(address);
    if (addressLength < ADDRESS_MIN || addressLength > ADDRESS_MAX || CONTROL_RE.test(address)) {
      errors.address = BOOKING_MESSAGES.address;
    }

    var date = str(values.service_date);
    var lastDay = addDaysUtc(today, BOOKING_HORIZON_DAYS);
    if (!isRealDate(date) || date < today || date > lastDay) {
      errors.service_date = BOOKING_MESSAGES.service_date;
    }

    if (DUMPSTER_SIZES.indexOf(str(values.dumpster_size)) === -1) {
      errors.dumpster_size = BOOKING_MESSAGES.dumpster_size;
    }

    var notes = str(values.notes).trim();
    if (charCount(notes) > NOTES_MAX || NOTES_CONTROL_RE.test(notes)) {
      errors.notes = BOOKING_MESSAGES.notes;
    }
    return errors;
  }

  function bookingValues(form) {
    var values = {};
    BOOKING_FIELDS.forEach(function (field) {
      values[field] = form.elements[field].value;
    });
    return values;
  }

  function setFieldError(form, field, message) {
    var input = form.elements[field];
    var error = form.querySelector("#book-" + field + "-error");
    if (message) {
      error.textContent = message;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
    } else {
      error.textContent = "";
      error.hidden = true;
      input.removeAttribute("aria-invalid");
    }
  }

  function showBookingErrors(form, errors) {
    var first = null;
    BOOKING_FIELDS.forEach(function (field) {
      setFieldError(form, field, errors[field] || "");
      if (errors[field] && !first) first = form.elements[field];
    });
    if (first) first.focus();
    return first !== null;
  }

  function renderBook() {
    document.title = "Book a dumpster · QuickDumpNow";
    var main = showView("view-book");
    var form = main.querySelector("[data-book-form]");
    var notice = main.querySelector("[data-book-error]");
    var submit = form.querySelector("[data-book-submit]");
    var today = todayUtc();
    form.elements.service_date.min = today;
    form.elements.service_date.max = addDaysUtc(today, BOOKING_HORIZON_DAYS);

    function showNotice(message) {
      notice.textContent = str(message);
      notice.hidden = !message;
    }

    // Once a field has been flagged, re-check it as the customer types so the message goes away
    // as soon as it is fixed.
    BOOKING_FIELDS.forEach(function (field) {
      var input = form.elements[field];
      var again = function () {
        if (input.getAttribute("aria-invalid") !== "true") return;
        var errors = validateBooking(bookingValues(form), todayUtc());
        setFieldError(form, field, errors[field] || "");
      };
      input.addEventListener("input", again);
      input.addEventListener("change", again);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      showNotice("");
      var values = bookingValues(form);
      if (showBookingErrors(form, validateBooking(values, todayUtc()))) return;
      submit.disabled = true;
      submit.textContent = "Sending…";
      sendBooking(values)
        .then(function (outcome) {
          if (outcome.booked) {
            renderConfirmation(main, outcome.body);
            return;
          }
          if (outcome.fields) {
            showNotice(TEXT.bookRejected);
            showBookingErrors(form, outcome.fields);
          } else {
            showNotice(TEXT.bookUnreachable);
          }
        })
        .finally(function () {
          submit.disabled = false;
          submit.textContent = "Request booking";
        });
    });
  }

  // Resolves to {booked, body} or {fields} (the server's field messages) or {} for a failure the
  // customer can retry; never rejects.
  function sendBooking(values) {
    return fetch(BOOK_API, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "omit",
      body: JSON.stringify(values),
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            if (response.status === 201 && body && body.booking_id) {
              return { booked: true, body: body };
            }
            if (response.status === 400 && body && body.fields && typeof body.fields === "object") {
              var fields = {};
              BOOKING_FIELDS.forEach(function (field) {
                if (body.fields[field]) fields[field] = str(body.fields[field]);
              });
              if (Object.keys(fields).length > 0) return { fields: fields };
            }
            return {};
          });
      })
      .catch(function () {
        return {};
      });
  }

  function renderConfirmation(main, body) {
    var view = cloneTemplate("book-confirmation");
    fill(view, "booking_id", body.booking_id);
    fill(view, "message", body.message || "Thanks, we have your booking request.");
    main.replaceChildren(view);
    document.title = "Booking received · QuickDumpNow";
    main.querySelector("[data-confirmation]").focus();
  }

  /* ---------- dashboard ---------- */

  function readKey() {
    try {
      return window.sessionStorage.getItem(KEY_STORAGE) || "";
    } catch (e) {
      return "";
    }
  }

  function writeKey(key) {
    try {
      if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
      else window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (e) {
      // Storage refused (private mode): the key then lives only in this page's memory.
    }
  }

  // The jobs API's URL for one page: the filters a list was loaded with and, for a following page,
  // the previous answer's cursor. The key never goes here; it travels in the Authorization header.
  function jobsUrl(filters, after) {
    var query = new URLSearchParams();
    if (filters.status) query.set("status", filters.status);
    if (filters.date) query.set("date", filters.date);
    if (after) query.set("after", after);
    var text = query.toString();
    return text ? JOBS_API + "?" + text : JOBS_API;
  }

  function renderDashboard() {
    document.title = "Dispatch dashboard · QuickDumpNow";
    var main = showView("view-dashboard");
    var status = main.querySelector("[data-dash-status]");
    var login = main.querySelector("[data-dash-login]");
    var keyInput = login.querySelector("#dash-key");
    var jobs = main.querySelector("[data-dash-jobs]");
    var filterForm = main.querySelector("[data-dash-filters]");
    var statusFilter = filterForm.elements.status;
    var dateFilter = filterForm.elements.date;
    var rows = main.querySelector("[data-dash-rows]");
    var count = main.querySelector("[data-dash-count]");
    var more = main.querySelector("[data-dash-more]");
    var moreButton = more.querySelector("button");
    var memoryKey = readKey();
    // The list on screen: the filters it was loaded with, how many rows it has, and the cursor of
    // the page after it (null when the last answer was the last page).
    var active = { status: "", date: "" };
    var shown = 0;
    var next = null;
    // Every load and every sign-out takes a new number; an answer to an older one is dropped, so
    // a slow response can neither bring rows back after sign-out nor mix two filters' rows.
    var request = 0;

    Object.keys(STATUS_LABELS).forEach(function (value) {
      var option = el("option", "", STATUS_LABELS[value]);
      option.value = value;
      statusFilter.appendChild(option);
    });

    function setStatus(kind, message, retry) {
      status.replaceChildren();
      if (message) status.appendChild(notice(kind === "error" ? "error" : "info", message, retry));
    }

    function clearRows() {
      rows.replaceChildren();
      count.textContent = "";
      shown = 0;
      next = null;
      more.hidden = true;
    }

    // Nothing of a customer may stay on screen once the key is gone or refused.
    function hideJobs() {
      request += 1;
      clearRows();
      jobs.hidden = true;
    }

    function showLogin() {
      hideJobs();
      login.hidden = false;
      keyInput.value = "";
      keyInput.focus();
    }

    function signOut() {
      memoryKey = "";
      writeKey("");
      setStatus("info", "Signed out.");
      showLogin();
    }

    // Page one under the filters the form shows now.
    function reload() {
      active = { status: statusFilter.value, date: dateFilter.value };
      load(null);
    }

    // A filter changed: the rows on screen no longer answer it, so they go before new ones come.
    function applyFilters() {
      clearRows();
      reload();
    }

    function showMore() {
      if (next) load(next);
    }

    // One page of the list: page one replaces the rows, a following page (after) is appended.
    function load(after) {
      if (!memoryKey) {
        showLogin();
        return;
      }
      request += 1;
      var ticket = request;
      var current = function () {
        return ticket === request;
      };
      var retry = function () {
        load(after);
      };
      login.hidden = true;
      moreButton.disabled = true;
      setStatus("info", after ? "Loading more jobs…" : "Loading jobs…");
      fetch(jobsUrl(active, after), {
        headers: { Authorization: "Bearer " + memoryKey, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      })
        .then(function (response) {
          if (!current()) return null;
          if (response.status === 401 || response.status === 403) {
            memoryKey = "";
            writeKey("");
            setStatus("error", TEXT.dashUnauthorized);
            showLogin();
            return null;
          }
          if (response.status === 503) {
            hideJobs();
            login.hidden = true;
            setStatus("error", TEXT.dashDisabled);
            return null;
          }
          if (response.status === 400) {
            return response
              .json()
              .catch(function () {
                return null;
              })
              .then(function (body) {
                if (!current()) return;
                // The filters stay on screen so they can be changed; a refused page one leaves no
                // rows, a refused following page leaves the rows already shown.
                if (!after) clearRows();
                moreButton.disabled = false;
                jobs.hidden = false;
                var message = body && typeof body.message === "string" ? body.message : "";
                setStatus("error", message || TEXT.dashBadFilter);
              });
          }
          if (!response.ok) throw new Error("jobs API answered " + response.status);
          return response.json().then(function (body) {
            if (!current()) return;
            if (!body || !Array.isArray(body.jobs)) throw new Error("jobs response without jobs");
            var cursor = typeof body.next === "string" && body.next !== "" ? body.next : null;
            setStatus("", "");
            showJobs(body.jobs, cursor, Boolean(after));
          });
        })
        .catch(function () {
          if (!current()) return;
          moreButton.disabled = false;
          setStatus("error", TEXT.dashUnreachable, retry);
        });
    }

    function cell(row, label, text, className) {
      var td = el("td", className || "", text);
      td.setAttribute("data-label", label);
      row.appendChild(td);
      return td;
    }

    function showJobs(list, cursor, append) {
      if (!append) rows.replaceChildren();
      list.forEach(function (job) {
        var row = el("tr");
        cell(row, "Reference", job.reference, "ref");
        cell(row, "Customer", job.customer_name);
        cell(row, "Location", job.location);
        var date = cell(row, "Service date", "");
        var time = el("time", "", job.service_date);
        time.setAttribute("datetime", str(job.service_date));
        date.appendChild(time);
        var state = cell(row, "Status", "");
        var badge = el("span", "status-badge", job.status_label || job.status);
        badge.setAttribute("data-status", statusKey(job.status));
        state.appendChild(badge);
        cell(row, "Price", formatPrice(job.price, job.currency), "num");
        rows.appendChild(row);
      });
      shown = (append ? shown : 0) + list.length;
      next = cursor;
      var text = shown === 1 ? "1 job" : shown + " jobs";
      count.textContent = next ? text + " shown, more available" : text;
      if (shown === 0) {
        var filtered = active.status !== "" || active.date !== "";
        var empty = el("tr");
        var td = el("td", "empty", filtered ? "No jobs match these filters." : "No jobs yet.");
        td.colSpan = 6;
        empty.appendChild(td);
        rows.appendChild(empty);
      }
      jobs.hidden = false;
      var hadFocus = document.activeElement === moreButton;
      moreButton.disabled = false;
      more.hidden = !next;
      // The button that was just used is gone: keep keyboard focus on the list, not the page top.
      if (hadFocus && more.hidden) count.focus();
    }

    login.addEventListener("submit", function (event) {
      event.preventDefault();
      var key = keyInput.value.trim();
      if (!key) {
        setStatus("error", "Enter the dispatcher key.");
        keyInput.focus();
        return;
      }
      memoryKey = key;
      writeKey(key);
      keyInput.value = "";
      reload();
    });
    filterForm.addEventListener("submit", function (event) {
      event.preventDefault();
      applyFilters();
    });
    statusFilter.addEventListener("change", applyFilters);
    dateFilter.addEventListener("change", applyFilters);
    main.querySelector("[data-dash-clear]").addEventListener("click", function () {
      statusFilter.value = "";
      dateFilter.value = "";
      applyFilters();
    });
    moreButton.addEventListener("click", showMore);
    main.querySelector("[data-dash-refresh]").addEventListener("click", reload);
    main.querySelector("[data-dash-signout]").addEventListener("click", signOut);
    reload();
  }

  /* ---------- start ---------- */

  function start() {
    showBuildId();
    route();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
