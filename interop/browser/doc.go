// Package browser holds tests in which a real headless Chromium (Debian's
// chromium, driven by chromedp) runs a single-page app on another origin
// against Tessera's CORS rule (docs/proxies.md, "CORS for SPAs").
package browser
