// Puppeteer must never download a browser: the machines here have no internet and use the system Chromium.
module.exports = { skipDownload: true };
