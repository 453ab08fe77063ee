// The browser chat: draws the conversation the server streams, sends what the person does.
"use strict";

(function () {
  const body = document.body;
  const who = body.dataset.as;
  if (!who) {
    return;
  }
  const conversation = document.getElementById("conversation");
  const status = document.getElementById("status");
  const URL_PATTERN = /(https?:\/\/[^\s<>"']+)/g;

  function post(path, data) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ as: who }, data)),
    });
  }

  // Text with its links made clickable; everything else stays text (never HTML).
  function words(text, tag) {
    const element = document.createElement(tag || "div");
    String(text).split(URL_PATTERN).forEach(function (part, index) {
      if (index % 2 === 1) {
        const link = document.createElement("a");
        link.href = part;
        link.textContent = part;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        element.appendChild(link);
      } else if (part) {
        element.appendChild(document.createTextNode(part));
      }
    });
    return element;
  }

  function button(label, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "option";
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  function answeredLine(message) {
    const line = document.createElement("div");
    line.className = "answered";
    line.textContent = "✓ " + message.answered;
    return line;
  }

  function image(picture) {
    const element = document.createElement("img");
    element.src = picture.src;
    element.alt = picture.alt;
    element.title = picture.title;
    return element;
  }

  function file(message) {
    const link = document.createElement("a");
    link.href = message.href;
    link.download = message.filename;
    link.textContent = message.title + " (" + message.filename + ")";
    return link;
  }

  function report(message, element) {
    element.appendChild(words(message.title, "h4"));
    message.sections.forEach(function (section) {
      element.appendChild(words(section.heading, "h5"));
      const list = document.createElement("ul");
      section.facts.forEach(function (fact) {
        list.appendChild(words(fact[0] + ": " + fact[1], "li"));
      });
      section.lines.forEach(function (line) {
        list.appendChild(words(line.trim(), "li"));
      });
      element.appendChild(list);
    });
    if (message.chart) {
      element.appendChild(image(message.chart));
    }
    if (message.footer) {
      element.appendChild(words(message.footer, "p"));
    }
  }

  function draw(message) {
    const element = document.createElement("div");
    element.className = "msg " + (message.from === "you" ? "you" : "bot");
    element.dataset.id = message.id;
    element.dataset.from = message.from;
    if (message.kind === "report") {
      report(message, element);
    } else if (message.kind === "image") {
      element.appendChild(image(message));
    } else if (message.kind === "file") {
      element.appendChild(file(message));
    } else {
      element.appendChild(words(message.text));
    }
    if (message.answered) {
      element.appendChild(answeredLine(message));
    } else if (message.kind === "choices" && body.dataset.channel !== "yes") {
      const options = document.createElement("div");
      options.className = "options";
      message.options.forEach(function (option) {
        options.appendChild(button(option.label, function () {
          post("/chat/tap", { token: message.token, value: option.value });
        }));
      });
      element.appendChild(options);
    } else if (message.kind === "words" && message.skip) {
      const options = document.createElement("div");
      options.className = "options";
      options.appendChild(button(message.skip || body.dataset.skip, function () {
        post("/chat/tap", { token: message.token, value: "skip" });
      }));
      element.appendChild(options);
    }
    return element;
  }

  function show(message) {
    const old = conversation.querySelector('[data-id="' + message.id + '"]');
    const element = draw(message);
    if (old) {
      old.replaceWith(element);
    } else {
      conversation.appendChild(element);
      element.scrollIntoView({ block: "end" });
    }
  }

  const events = new EventSource("/chat/events?as=" + encodeURIComponent(who));
  events.onopen = function () {
    status.hidden = true;
  };
  events.onerror = function () {
    status.textContent = body.dataset.offline;
    status.hidden = false;
  };
  events.onmessage = function (event) {
    const change = JSON.parse(event.data);
    if (change.type === "history") {
      conversation.replaceChildren();
      change.messages.forEach(show);
    } else if (change.type === "remove") {
      const gone = conversation.querySelector('[data-id="' + change.id + '"]');
      if (gone) {
        gone.remove();
      }
    } else {
      show(change.message);
    }
  };

  document.querySelectorAll("[data-say]").forEach(function (element) {
    element.addEventListener("click", function () {
      post("/chat/say", { text: element.dataset.say });
    });
  });
  const compose = document.getElementById("compose");
  if (compose) {
    compose.addEventListener("submit", function (event) {
      event.preventDefault();
      const input = document.getElementById("text");
      const photos = document.getElementById("photos");
      const text = input.value.trim();
      // Only the photos' names go to lastmile: it keeps the words, never the files.
      const files = Array.from(photos.files).map(function (photo) {
        return photo.name;
      });
      if (text || files.length) {
        post("/chat/say", { text: text, files: files });
        input.value = "";
        photos.value = "";
      }
    });
  }
})();
