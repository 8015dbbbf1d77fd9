package payments

// Card numbers never enter the system (PCI DSS requirement 3): a primary
// account number (PAN) is 13 to 19 digits whose last one is a Luhn check
// digit, often written in groups separated by spaces or dashes. Anything
// that looks like one is refused wherever a client sends free text.

// IsCardNumber reports whether s, as a whole, is a Luhn-valid run of 13-19
// digits, spaces and dashes allowed between them.
func IsCardNumber(s string) bool {
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-':
		default:
			return false
		}
	}
	return luhnCardNumber(digits)
}

// ContainsCardNumber reports whether s holds a card number anywhere: a
// maximal run of digits (spaces and dashes allowed between them) that is
// itself a card number. A longer run is not one (a PAN is never glued to
// other digits), so long order numbers pass; a 13-19 digit one passes
// unless its last digit happens to be a Luhn check digit (one in ten), a
// price worth paying for never storing a PAN a client put in free text.
func ContainsCardNumber(s string) bool {
	var run []byte
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			c := s[i]
			if c >= '0' && c <= '9' {
				run = append(run, c)
				continue
			}
			if (c == ' ' || c == '-') && len(run) > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				continue // a separator inside a number
			}
		}
		if luhnCardNumber(run) {
			return true
		}
		run = run[:0]
	}
	return false
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
