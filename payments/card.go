package payments

import "unicode"

// Card numbers never enter the system (PCI DSS requirement 3): a primary
// account number (PAN) is 13 to 19 digits whose last one is a Luhn check
// digit, often written in groups. Anything that looks like one is refused
// wherever a client sends free text.

// ContainsCardNumber reports whether s holds a card number anywhere. s is
// read as groups of ASCII digits; groups joined only by separators (any
// run of white space, dashes of any kind or underscores) form a sequence,
// and every run of consecutive groups of a sequence with 13-19 digits in
// all is checked with Luhn. So "4111 1111 1111 1111", "4111--1111 – 1111
// 1111", "tok_4111111111111111" and "invoice 2026 4111 1111 1111 1111" are
// all found. Card numbers are written in groups of three digits or more,
// so a shorter group (a day or a month, "2026-11-29") breaks a run: dates
// next to order numbers pass. A single group longer than 19 digits is no
// card number (a PAN is never glued to other digits), so long order
// numbers pass; a group or run of groups of 13-19 digits passes unless its
// last digit happens to be a Luhn check digit (one in ten): a price worth
// paying for never storing a PAN a client put in free text.
func ContainsCardNumber(s string) bool {
	var groups []string // the digit groups of the current sequence
	var group []rune
	flush := func() {
		if len(group) > 0 {
			groups = append(groups, string(group))
			group = group[:0]
		}
	}
	check := func() bool {
		flush()
		found := anyRunIsCardNumber(groups)
		groups = groups[:0]
		return found
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			group = append(group, r)
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '_':
			flush()
		default:
			if check() {
				return true
			}
		}
	}
	return check()
}

// anyRunIsCardNumber checks every run of consecutive groups of at least
// three digits with 13-19 digits in all.
func anyRunIsCardNumber(groups []string) bool {
	for start := range groups {
		digits := make([]byte, 0, 19)
		for _, g := range groups[start:] {
			if len(g) < 3 || len(digits)+len(g) > 19 {
				break
			}
			digits = append(digits, g...)
			if luhnCardNumber(digits) {
				return true
			}
		}
	}
	return false
}

// IsCardNumber reports whether s, as a whole, is a card number: 13-19
// digits, Luhn-valid, with nothing but separators (white space, dashes,
// underscores) between them. For identifiers a client chooses freely, such
// as idempotency keys, where numbers joined by dashes are common and only
// a bare card number is refused.
func IsCardNumber(s string) bool {
	digits := make([]byte, 0, 19)
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			if len(digits) == 19 {
				return false
			}
			digits = append(digits, byte(r))
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '_':
		default:
			return false
		}
	}
	return luhnCardNumber(digits)
}

// luhnCardNumber reports whether digits is 13-19 digits long with a valid
// Luhn check digit.
func luhnCardNumber(digits []byte) bool {
	if len(digits) < 13 || len(digits) > 19 {
		return false
	}
	sum := 0
	for i := range digits {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
