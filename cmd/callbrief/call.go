package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/callbrief/callbrief/app"
	"github.com/callbrief/callbrief/pipeline"
)

// cmdCall runs a whole call offline: the WAV file is the caller's opening
// turn; the scenario (if any) answers the verification questions.
func cmdCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("call", &c, stderr)
	caller := fs.String("caller", "", "the caller's number as the network presents it (empty: withheld)")
	scenario := fs.String("scenario", "", "scenario YAML: the caller's answers (DTMF, speech clips or text)")
	asJSON := fs.Bool("json", false, "print the brief as JSON")
	realtime := fs.Bool("realtime", false, "play audio at the speed of speech")
	answerTimeout := fs.Duration("answer-timeout", time.Second, "how long a question waits for the scenario's answer (a missing answer is silence)")
	pos, err := c.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: callbrief call FILE.wav --caller NUMBER [--scenario FILE] [--json]", errUsage)
	}
	opening, err := readAudio(pos[0])
	if err != nil {
		return err
	}
	in := &pipeline.OfflineIngress{Opening16k: opening, ReadWAV: readAudio}
	if *scenario != "" {
		if in.Scenario, err = pipeline.LoadScenario(*scenario); err != nil {
			return err
		}
	} else {
		in.Scenario = &pipeline.Scenario{}
	}
	if *caller != "" {
		in.Scenario.Caller = *caller
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
	st, err := app.BuildStack(ctx, eng)
	if err != nil {
		return err
	}
	defer st.Close()
	callID := strings.TrimSuffix(filepath.Base(pos[0]), filepath.Ext(pos[0]))
	log := c.log.With("call_id", callID)
	cc := st.CallConfig(eng, rec, *realtime, log)
	cc.AnswerTimeout = *answerTimeout
	res, err := pipeline.RunCall(ctx, cc, callID, in)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printBrief(stdout, res)
	return nil
}

// printBrief is the readable view of a brief, as an agent would scan it.
func printBrief(w io.Writer, res pipeline.Result) {
	b := res.Brief
	fmt.Fprintf(w, "Call %s\n", res.CallID)
	fmt.Fprintf(w, "  Route:        %s (level %d+, priority %d", b.Route.Group, b.Route.MinLevel, b.Route.Priority)
	if b.Route.Line != "" {
		fmt.Fprintf(w, ", %s line", b.Route.Line)
	}
	fmt.Fprintln(w, ")")
	fmt.Fprintf(w, "  Intent:       %s (%.2f)", b.Intent.Intent, b.Intent.Confidence)
	for i, a := range b.Intent.Alternatives {
		if i == 0 {
			fmt.Fprint(w, "  alternatives:")
		}
		fmt.Fprintf(w, " %s %.2f", a.Intent, a.Confidence)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  Urgency:      level %d, emotion %s %v\n", b.Urgency.Level, b.Urgency.Emotion, b.Urgency.Reasons)
	fmt.Fprintf(w, "  Language:     %s\n", b.Language.Language)
	fmt.Fprintf(w, "  Verification: %s %v", b.Verification.Status, b.Verification.Passed)
	if b.Verification.Reason != "" {
		fmt.Fprintf(w, " (%s)", b.Verification.Reason)
	}
	fmt.Fprintln(w)
	for _, s := range b.Slots {
		fmt.Fprintf(w, "  Slot:         %s = %s\n", s.Kind, s.Value)
	}
	fmt.Fprintf(w, "  Summary:      %s\n", b.Summary.Text)
	for _, s := range b.Transcript.Segments {
		fmt.Fprintf(w, "  [%s - %s] %s\n", clock(s.Start), clock(s.End), s.Text)
	}
	for _, k := range b.KB {
		fmt.Fprintf(w, "  KB:           %.2f %s (%s)\n", k.Score, k.Title, k.Why)
	}
	if b.Ticket != nil {
		fmt.Fprintf(w, "  Ticket:       %s for %s %v\n", b.Ticket.Type, b.Ticket.Product, b.Ticket.Fields)
	}
	fmt.Fprintf(w, "  Brief built in %s; call handled in %s\n", b.Timing.Total, res.Wall)
}
