package main

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// uploadScenario uploads three files of o.uploadSize distinct bytes each to
// documents that do not exist, then counts the bytes the server kept.
func uploadScenario(s *server, o options) ([]figure, error) {
	before, err := s.resetPeak()
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	var answers, took []string
	for i := range 3 {
		t0 := time.Now()
		a := upload(client, fmt.Sprintf("http://%s/api/doc/missing%d", s.addr, i), i, o.uploadSize)
		took = append(took, time.Since(t0).Round(time.Millisecond).String())
		// The same answer but for the id counts once.
		if a = strings.ReplaceAll(a, fmt.Sprintf("missing%d", i), "missingN"); !slices.Contains(answers, a) {
			answers = append(answers, a)
		}
	}
	fig := s.growth(fmt.Sprintf("3 uploads of %s to ids that do not exist", mib(uint64(o.uploadSize))), before, strings.Join(answers, "; "))
	fig.detail += "; took " + strings.Join(took, ", ")
	figs := []figure{fig}
	for _, sub := range []string{"files", "tmp"} {
		n, files := du(filepath.Join(s.dataDir(), sub))
		figs = append(figs, figure{label: "bytes left in <data>/" + sub, value: float64(n) / (1 << 20), unit: "MiB", answer: fmt.Sprintf("%d files", files)})
	}
	return figs, nil
}

// upload PUTs a multipart body whose file part is size bytes drawn from
// seed, streamed, and returns the answer's status and the start of its
// body.
func upload(client *http.Client, url string, seed int, size int64) string {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", fmt.Sprintf("junk%d.bin", seed))
		if err == nil {
			_, err = io.CopyN(part, rand.NewChaCha8([32]byte{byte(seed)}), size)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPut, url, pr)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return "error: " + refusal(0, err)
	}
	defer resp.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe) // the server answered: stop writing
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return fmt.Sprintf("%d %s", resp.StatusCode, truncate(strings.TrimSpace(string(body)), 70))
}

// du sums the sizes of the regular files under dir.
func du(dir string) (bytes int64, files int) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			bytes += info.Size()
			files++
		}
		return nil
	})
	return bytes, files
}
