// Package phone normalises caller numbers to E.164 (+8613812345678) so that
// the number the network presents, the number a caller says and the number
// in the accounts directory compare equal, and masks them for display.
package phone

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Errors returned by Normalize, each wrapped with the reason.
var (
	// ErrWithheld: the network did not present a number (empty,
	// "anonymous", "private", "unavailable"). It is a risk signal, not a
	// failure: the call goes on with stronger checks.
	ErrWithheld = errors.New("phone: number withheld")
	// ErrInvalid: the text is not a plausible phone number.
	ErrInvalid = errors.New("phone: invalid number")
)

// withheld are the presentations networks and SIP trunks use for a
// restricted number.
var withheld = map[string]bool{
	"": true, "anonymous": true, "private": true, "unavailable": true, "unknown": true,
	"restricted": true, "withheld": true, "blocked": true,
}

// Normalize returns the E.164 form of s.
//
// Accepted: +8613812345678, 8613812345678, 008613812345678,
// 13812345678 (a Chinese mobile without prefix), 010-12345678 (a Chinese
// landline with trunk zero), and any +<country><number> of 8 to 15 digits.
// Spaces, dashes, dots and brackets are ignored; a "tel:" or "sip:" URI
// prefix is stripped. Chinese mobile numbers (+86 1[3-9]x, 11 digits) are
// checked strictly, because they are what accounts are registered with.
func Normalize(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	raw := strings.TrimSpace(s)
	low := strings.ToLower(raw)
	for _, p := range []string{"tel:", "sip:", "sips:"} {
		low = strings.TrimPrefix(low, p)
	}
	if at := strings.IndexByte(low, '@'); at >= 0 { // sip:+86138...@carrier
		low = low[:at]
	}
	if semi := strings.IndexByte(low, ';'); semi >= 0 { // tel:+86...;phone-context
		low = low[:semi]
	}
	if withheld[strings.TrimSpace(low)] {
		return "", ErrWithheld
	}
	if len(low) > 40 {
		return "", fmt.Errorf("%w: too long", ErrInvalid)
	}
	var b strings.Builder
	plus := false
	for i, r := range low {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%w: unexpected character %q", ErrInvalid, r)
		}
	}
	d := b.String()
	switch {
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:] // international call prefix
	case len(d) == 11 && d[0] == '1':
		d = "86" + d // domestic mobile
	case len(d) >= 10 && len(d) <= 12 && d[0] == '0':
		d = "86" + d[1:] // domestic landline with trunk zero
	case strings.HasPrefix(d, "86") && len(d) == 13:
	default:
		return "", fmt.Errorf("%w: %d digits without a country code", ErrInvalid, len(d))
	}
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("%w: %d digits (E.164 allows 8 to 15)", ErrInvalid, len(d))
	}
	if d[0] == '0' {
		return "", fmt.Errorf("%w: country code cannot start with 0", ErrInvalid)
	}
	if strings.HasPrefix(d, "86") {
		if err := checkChina(d[2:]); err != nil {
			return "", err
		}
	}
	return "+" + d, nil
}

// checkChina validates a national number: mobiles are 1[3-9] and eleven
// digits; landlines an area code (Beijing's is 10) and subscriber number
// of 9 to 11 digits in all (no trunk zero).
func checkChina(n string) error {
	if n == "" {
		return fmt.Errorf("%w: no national number", ErrInvalid)
	}
	if n[0] == '1' && (len(n) < 2 || n[1] != '0') { // 10 is Beijing's area code
		if len(n) != 11 {
			return fmt.Errorf("%w: Chinese mobile numbers have 11 digits, got %d", ErrInvalid, len(n))
		}
		if n[1] < '3' || n[1] > '9' {
			return fmt.Errorf("%w: no Chinese mobile range starts 1%c", ErrInvalid, n[1])
		}
		return nil
	}
	if n[0] == '0' {
		return fmt.Errorf("%w: trunk zero after +86", ErrInvalid)
	}
	if len(n) < 9 || len(n) > 11 {
		return fmt.Errorf("%w: Chinese landline numbers have 9 to 11 digits, got %d", ErrInvalid, len(n))
	}
	return nil
}

// Mask hides the middle of a number the way Chinese service centres print
// it: the national number's first three and last four digits stay, e.g.
// +8613812345678 becomes 138****5678. Text that is not a number is masked
// whole, so a mistake never leaks an identifier into a log.
func Mask(e164 string) string {
	d := strings.TrimPrefix(e164, "+")
	if strings.HasPrefix(d, "86") && len(d) == 13 {
		d = d[2:]
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return "****"
		}
	}
	if len(d) < 8 {
		return "****"
	}
	return d[:3] + "****" + d[len(d)-4:]
}

// Last returns the last n digits of a number (all of them if shorter).
func Last(e164 string, n int) string {
	d := strings.TrimPrefix(e164, "+")
	if n >= len(d) {
		return d
	}
	return d[len(d)-n:]
}
