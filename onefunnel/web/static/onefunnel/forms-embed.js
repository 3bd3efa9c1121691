/*
 * onefunnel forms: the embed snippet. Put on any page of a site the form allows (its
 * allowed origins):
 *
 *   <div data-onefunnel-form="SLUG"></div>
 *   <script src="https://ONEFUNNEL/static/onefunnel/forms-embed.js" async></script>
 *
 * It reads the form's definition from ONEFUNNEL/f/SLUG/form.json, draws the form in the div,
 * and posts the answers as JSON to ONEFUNNEL/f/SLUG/submit with: the page's UTM parameters
 * (from location.search), the page's address, Segment's anonymous id (the ajs_anonymous_id
 * cookie or localStorage entry that analytics.js keeps, when the site runs it) so the visitor's
 * earlier visits join the contact, a submission id (a retry is recorded once), and the
 * honeypot field people never see. No dependencies; nothing is sent anywhere else.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : "";
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  var TRAP = "homepage";

  function unquote(value) {
    if (!value) return "";
    try {
      value = decodeURIComponent(value);
    } catch (e) {
      /* keep as is */
    }
    if (value.charAt(0) === '"') {
      try {
        value = JSON.parse(value);
      } catch (e) {
        value = value.replace(/^"|"$/g, "");
      }
    }
    return typeof value === "string" ? value : "";
  }

  function anonymousId() {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === "ajs_anonymous_id") return unquote(parts[i].slice(eq + 1));
    }
    try {
      return unquote(window.localStorage.getItem("ajs_anonymous_id"));
    } catch (e) {
      return "";
    }
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, attrs[k]);
    });
    if (text) node.textContent = text;
    return node;
  }

  function draw(holder, slug, form) {
    var id = "of-" + slug + "-";
    var node = el("form", { "class": "of-form", novalidate: "novalidate" });
    var inputs = {};
    form.fields.forEach(function (f) {
      var wrap = el("p");
      var label = el("label", { "for": id + f.name }, f.label + (f.required ? " *" : ""));
      var input;
      if (f.type === "textarea") {
        input = el("textarea", { id: id + f.name, name: f.name, rows: "4" });
      } else {
        input = el("input", { id: id + f.name, name: f.name, type: f.type });
      }
      if (f.type === "checkbox") {
        wrap.appendChild(input);
        wrap.appendChild(label);
      } else {
        wrap.appendChild(label);
        wrap.appendChild(input);
      }
      wrap.appendChild(el("span", { "class": "of-error", "data-for": f.name }));
      inputs[f.name] = input;
      node.appendChild(wrap);
    });
    var trap = el("div", { "aria-hidden": "true", style: "position:absolute;left:-10000px" });
    var trapInput = el("input", { type: "text", name: TRAP, tabindex: "-1", autocomplete: "off" });
    trap.appendChild(trapInput);
    node.appendChild(trap);
    var consent = null;
    if (form.consent_text) {
      var cwrap = el("p");
      consent = el("input", { id: id + "consent", name: "consent", type: "checkbox" });
      cwrap.appendChild(consent);
      cwrap.appendChild(el("label", { "for": id + "consent" }, form.consent_text));
      cwrap.appendChild(el("span", { "class": "of-error", "data-for": "consent" }));
      node.appendChild(cwrap);
    }
    var button = el("button", { type: "submit" }, "Submit");
    var status = el("p", { role: "status", "class": "of-status" });
    node.appendChild(button);
    node.appendChild(status);
    var submissionId = newId();

    node.addEventListener("submit", function (event) {
      event.preventDefault();
      var values = {};
      Object.keys(inputs).forEach(function (name) {
        var input = inputs[name];
        values[name] = input.type === "checkbox" ? input.checked : input.value;
      });
      if (consent) values.consent = consent.checked;
      var query = new URLSearchParams(window.location.search);
      UTM.forEach(function (key) {
        if (query.get(key)) values[key] = query.get(key);
      });
      values.page_url = window.location.href;
      values.anonymous_id = anonymousId();
      values.submission_id = submissionId;
      values[TRAP] = trapInput.value;
      node.querySelectorAll(".of-error").forEach(function (span) {
        span.textContent = "";
      });
      button.disabled = true;
      status.textContent = "Sending…";
      fetch(base + "/f/" + encodeURIComponent(slug) + "/submit", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(values),
        credentials: "omit",
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (answer) {
          button.disabled = false;
          if (answer.ok) {
            if (answer.body.redirect_url) {
              window.location.assign(answer.body.redirect_url);
              return;
            }
            holder.textContent = "";
            holder.appendChild(el("p", { role: "status", "class": "of-thanks" }, answer.body.thank_you));
            return;
          }
          status.textContent = answer.body.detail || "Please check the form.";
          (answer.body.errors || []).forEach(function (error) {
            var span = node.querySelector('.of-error[data-for="' + (error.loc || [])[0] + '"]');
            if (span) span.textContent = error.msg;
          });
        })
        .catch(function () {
          button.disabled = false;
          status.textContent = "Could not send the form; please try again.";
        });
    });
    holder.textContent = "";
    holder.appendChild(node);
  }

  function start() {
    var holders = document.querySelectorAll("[data-onefunnel-form]");
    Array.prototype.forEach.call(holders, function (holder) {
      var slug = holder.getAttribute("data-onefunnel-form");
      fetch(base + "/f/" + encodeURIComponent(slug) + "/form.json", { credentials: "omit" })
        .then(function (response) {
          if (!response.ok) throw new Error("form " + slug + ": " + response.status);
          return response.json();
        })
        .then(function (form) {
          draw(holder, slug, form);
        })
        .catch(function () {
          holder.textContent = "This form is not available.";
        });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
