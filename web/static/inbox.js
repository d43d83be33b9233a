// Conveniences for the ASN inbox. The page works without this script: the text can be
// selected by hand and every share link is a plain link. Buttons that need the script
// start hidden and are revealed here only when the browser supports what they do.
(function () {
  "use strict";

  function copyFrom(selector) {
    var field = document.querySelector(selector);
    if (!field) { return Promise.reject(new Error("no field")); }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(field.value);
    }
    // Older phones: select the text and use the legacy copy command.
    field.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      copyFrom(button.getAttribute("data-copy")).then(function () {
        button.textContent = button.getAttribute("data-copied") || label;
        setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        var field = document.querySelector(button.getAttribute("data-copy"));
        if (field) { field.focus(); field.select(); }
      });
    });
  });

  function imageFile(url) {
    // Share the image itself where the phone can (Instagram needs the picture).
    if (!url || !navigator.canShare) { return Promise.resolve(null); }
    return fetch(url).then(function (response) { return response.blob(); }).then(function (blob) {
      var name = url.split("/").pop() || "image";
      var file = new File([blob], name, { type: blob.type });
      return navigator.canShare({ files: [file] }) ? file : null;
    }).catch(function () { return null; });
  }

  // After a report, decline or feedback the page opens at the outcome (the redirect's
  // #outcome anchor); move focus there too, so screen readers and phones land on it.
  var target = document.querySelector("[data-focus]");
  if (target) {
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center" });
  }

  if (navigator.share) {
    document.querySelectorAll(".js-share").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-text") || "";
        imageFile(button.getAttribute("data-image")).then(function (file) {
          var data = { text: text };
          if (file) { data.files = [file]; }
          return navigator.share(data);
        }).catch(function () { /* the person closed the share sheet */ });
      });
    });
  }
})();
