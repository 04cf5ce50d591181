package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/pipeline"
)

// readAudio reads a WAV file as 16 kHz mono samples.
func readAudio(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := media.ReadWAV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pcm, err := a.PCM16(vad.SampleRate)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pcm, nil
}

func listenConfig(c *common, lang call.Language) pipeline.ListenConfig {
	return pipeline.ListenConfig{Endpoint: c.cfg.VAD.Endpoint, Stream: asr.StreamConfig{Language: lang}}
}

func cmdTranscribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("transcribe", &c, stderr)
	partials := fs.Bool("partials", false, "print partial hypotheses as they arrive")
	asJSON := fs.Bool("json", false, "print the transcript as JSON")
	realtime := fs.Bool("realtime", false, "play the audio at the speed of speech, as a live call")
	lang := fs.String("lang", "", "language hint: en, zh, cmn, yue")
	pos, err := c.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: callbrief transcribe [flags] FILE.wav", errUsage)
	}
	pcm, err := readAudio(pos[0])
	if err != nil {
		return err
	}
	eng, err := app.NewEngines(c.cfg, c.log)
	if err != nil {
		return err
	}
	defer eng.Close()
	rec, err := eng.Recognizer()
	if err != nil {
		return err
	}
	defer rec.Close()
	det, err := eng.NewDetector()
	if err != nil {
		return err
	}
	opt := pipeline.FileOptions{RealTime: *realtime}
	if *partials && !*asJSON {
		opt.OnResult = func(r asr.Result) {
			if !r.Final {
				fmt.Fprintf(stdout, "  ~ %s\n", r.Text)
			}
		}
	}
	tr, st, err := pipeline.Transcribe(ctx, pcm, det, rec, listenConfig(&c, call.Language(*lang)), opt, c.log)
	if err != nil {
		return err
	}
	tr.CallID = filepath.Base(pos[0])
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(tr)
	}
	for _, s := range tr.Segments {
		fmt.Fprintf(stdout, "[%s - %s] %s\n", clock(s.Start), clock(s.End), s.Text)
	}
	fmt.Fprintf(stderr, "%d segments, %.1f s of audio, real-time factor %.3f (%s, %s)\n",
		len(tr.Segments), st.Audio.Seconds(), st.RTF(), rec.Name(), det.Name())
	return nil
}

func clock(d time.Duration) string {
	return fmt.Sprintf("%02d:%06.3f", int(d.Minutes()), (d % time.Minute).Seconds())
}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "asr" {
		return fmt.Errorf("%w: callbrief eval asr --data DIR", errUsage)
	}
	var c common
	fs := newFlagSet("eval asr", &c, stderr)
	data := fs.String("data", "", "dataset folder with transcripts.tsv (file, language, text)")
	out := fs.String("out", "", "folder to write report.json and report.md (default: print Markdown)")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	langs := fs.String("only", "", "evaluate only clips of this language (e.g. en)")
	noHint := fs.Bool("no-hint", false, "give the recognizer no language hint, as on a call: the engine decides the language (reported per clip)")
	phoneSNR := fs.Float64("telephone", 0, "pass every clip through a telephone channel first (8 kHz, 300 Hz high-pass, G.711 mu-law) with noise at this SNR in dB (0: no channel)")
	if _, err := c.parse(fs, args[1:], stderr); err != nil {
		return err
	}
	if *phoneSNR < 0 {
		return fmt.Errorf("%w: --telephone %v: the SNR must be positive (dB)", errUsage, *phoneSNR)
	}
	if *data == "" {
		return fmt.Errorf("%w: --data DIR is required", errUsage)
	}
	items, err := evals.LoadASRDataset(*data)
	if err != nil {
		return err
	}
	if *langs != "" {
		var keep []evals.ASRItem
		for _, it := range items {
			if string(it.Language) == *langs {
				keep = append(keep, it)
			}
		}
		items = keep
	}
	eng, err := app.NewEngines(c.cfg, c.log)
	if err != nil {
		return err
	}
	defer eng.Close()
	rec, err := eng.Recognizer()
	if err != nil {
		return err
	}
	defer rec.Close()
	var detName string
	run := func(ctx context.Context, it evals.ASRItem) (evals.ASRHypothesis, error) {
		var h evals.ASRHypothesis
		pcm, err := readAudio(it.File)
		if err != nil {
			return h, err
		}
		if *phoneSNR > 0 {
			if pcm, err = evals.Telephone(pcm, *phoneSNR, 1); err != nil {
				return h, err
			}
		}
		h.Audio = time.Duration(len(pcm)) * time.Second / vad.SampleRate
		det, err := eng.NewDetector()
		if err != nil {
			return h, err
		}
		detName = det.Name()
		hint := it.Language
		if *noHint {
			hint = ""
		}
		tr, st, err := pipeline.Transcribe(ctx, pcm, det, rec, listenConfig(&c, hint), pipeline.FileOptions{}, c.log)
		if err != nil {
			return h, err
		}
		h.Text = tr.Text()
		h.Language = evals.MajorityLanguage(tr.Segments)
		h.Process = st.VADTime + st.ASRTime
		for _, u := range st.Utterances {
			h.EndpointDelays = append(h.EndpointDelays, u.EndpointDelay)
			h.FinalLatencies = append(h.FinalLatencies, u.FinalLatency)
		}
		return h, nil
	}
	rep, err := evals.RunASR(ctx, rec.Name(), *data, items, run)
	if err != nil {
		return err
	}
	rep.Engine = rec.Name() + " + " + detName
	if *phoneSNR > 0 {
		rep.Engine += fmt.Sprintf(", through a telephone channel (8 kHz G.711 mu-law, SNR %.0f dB)", *phoneSNR)
	}
	rep.Machine = fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		js, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(filepath.Join(*out, "report.json"), js, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "report.md"), []byte(rep.Markdown()), 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprint(stdout, rep.Markdown())
	return nil
}
