// Content calendar: drag a draft onto another day to move it there at the same time of day.
// Without JavaScript every draft keeps its Move form; this only fills that form and sends it,
// so the server checks, audits and answers exactly as for the form.
(function () {
  "use strict";
  var dragged = null;
  document.querySelectorAll(".cal-entry").forEach(function (entry) {
    var form = entry.querySelector(".cal-move form");
    if (!form) {
      return;
    }
    entry.setAttribute("draggable", "true");
    entry.classList.add("cal-draggable");
    entry.addEventListener("dragstart", function (event) {
      dragged = form;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", form.getAttribute("action"));
    });
    entry.addEventListener("dragend", function () {
      dragged = null;
    });
  });
  document.querySelectorAll("[data-day]").forEach(function (cell) {
    cell.addEventListener("dragover", function (event) {
      if (dragged) {
        event.preventDefault();
        cell.classList.add("cal-drop");
      }
    });
    cell.addEventListener("dragleave", function () {
      cell.classList.remove("cal-drop");
    });
    cell.addEventListener("drop", function (event) {
      event.preventDefault();
      cell.classList.remove("cal-drop");
      if (!dragged) {
        return;
      }
      var input = dragged.querySelector("input[name=scheduled_at]");
      var time = input.value.split("T")[1] || "09:00";
      input.value = cell.getAttribute("data-day") + "T" + time;
      dragged.submit();
    });
  });
})();
