package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/teamctl/teamctl/web"
)

// browser is a headless Chromium (Debian's chromium, which make test installs), or a skip
// that says how to get one.
func browser(t testing.TB) (context.Context, func()) {
	t.Helper()
	path := os.Getenv("TEAMCTL_TEST_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		t.Skip("skipped: no Chromium here; make test installs Debian's (apt-get install chromium), or set TEAMCTL_TEST_CHROMIUM to one")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// The first call starts the browser, which lives as long as that call's context: no
	// timeout on it (the steps get theirs).
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx, func() { cancelCtx(); cancelAlloc() }
}

// typeAnswer types text into the field sel. The page may swap its live part (the field
// with it) until typing starts, which holds the swaps back: a field replaced under the
// keys is found again.
func typeAnswer(sel chromedp.CSS, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		for range 10 {
			if _, err = chromedp.SendKeys(sel, text)(ctx, tg); err == nil {
				var v string
				if v, err = chromedp.Value(sel)(ctx, tg); err == nil && v == text {
					return nil
				}
				if err == nil {
					err = fmt.Errorf("the field holds %q", v)
				}
			}
			if _, cerr := chromedp.Clear(sel)(ctx, tg); cerr != nil && !strings.Contains(cerr.Error(), "Could not find node") {
				return cerr
			}
		}
		return fmt.Errorf("type into %s: %w", sel, err)
	})
}

// pageText is what the browser shows, for a failure's message.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	return s
}

// TestBrowser: a person opens the login link in a real browser, sees the agents and the
// blocker, answers it in the form and sees it answered without reloading (the event
// stream), then opens a conversation. Screenshots at desktop and phone width are left in
// the test's artifacts (go test -artifacts -outputdir DIR -run TestBrowser ./web).
func TestBrowser(t *testing.T) {
	ctx, done := browser(t)
	defer done()
	tm := startTeam(t, web.Options{})
	shots := t.ArtifactDir()
	var answered, conversation string
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.FullScreenshot(90)(ctx, tg)
			if err == nil {
				err = os.WriteFile(filepath.Join(shots, name), b, 0o644)
			}
			return err
		})
	}
	text := func(sel string, out *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			*out, err = chromedp.Text(chromedp.CSS(sel))(ctx, tg)
			return err
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	steps, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := chromedp.Do(steps,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(tm.srv.URL+"/t/t?token="+tm.token),
		chromedp.WaitVisible(css(`[data-agent="talker"]`)),
		chromedp.WaitVisible(css(`[data-blocker="1"] textarea`)), // came live, if the page opened before it
		shot("team-desktop.png"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		shot("team-phone.png"),
		typeAnswer(css(`[data-blocker="1"] textarea`), "colour: teal"),
		chromedp.Click(css(`[data-blocker="1"] button`)),
		// The form posts and comes back; the blocker goes once the journal says it was answered.
		chromedp.WaitNotPresent(css(`[data-blocker="1"]`)),
		// Then, with no reload, the page follows the journal: the agent relaunched with the
		// answer, and its task merged.
		chromedp.WaitVisible(css(`[data-task="ask"] .s-merged`)),
		text(`#feed`, &answered),
		chromedp.Navigate(tm.srv.URL+"/t/t/a/asker"),
		chromedp.WaitVisible(css(`#conversation`)),
		text(`#conversation`, &conversation),
		shot("conversation-phone.png"),
	)
	if err != nil {
		t.Fatalf("browser: %v\nthe page:\n%s\nthe run:\n%s", err, pageText(ctx), tm.logs.String())
	}
	if !strings.Contains(answered, "which colour?") {
		t.Errorf("the feed after the answer: %q", answered)
	}
	if !strings.Contains(conversation, "asker") {
		t.Errorf("asker's conversation: %q", conversation)
	}
	for _, f := range []string{"team-desktop.png", "team-phone.png", "conversation-phone.png"} {
		if fi, err := os.Stat(filepath.Join(shots, f)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
	t.Logf("screenshots in %s", shots)
}
