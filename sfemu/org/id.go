package org

import "strings"

// Record ids: 15 case-sensitive characters (a 3-character key prefix, then instance, reserved and serial parts)
// and a 3-character suffix that makes the 18-character form safe for case-insensitive systems.

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// EmptyID is the id Salesforce puts in an overflow event's recordIds.
const EmptyID = "000000000000000AAA"

// MakeID returns the 18-character id of serial n of a key prefix: prefix, the emulator's instance "5e", a
// reserved "0", nine base-62 digits of n, then the case-safe suffix.
func MakeID(prefix string, n uint64) string {
	var b [15]byte
	copy(b[:], prefix)
	b[3], b[4], b[5] = '5', 'e', '0'
	for i := 14; i >= 6; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return string(b[:]) + CaseSafeSuffix(string(b[:]))
}

// CaseSafeSuffix computes the 3 characters that turn a 15-character id into its 18-character form: for each
// block of 5 characters, bit i is set when character i is an uppercase letter, mapped through A-Z0-5.
func CaseSafeSuffix(id15 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var out [3]byte
	for blk := range 3 {
		n := 0
		for i := range 5 {
			if c := id15[blk*5+i]; c >= 'A' && c <= 'Z' {
				n |= 1 << i
			}
		}
		out[blk] = alphabet[n]
	}
	return string(out[:])
}

// NormalizeID returns the 18-character form of a 15- or 18-character id, and false for anything else (including
// an 18-character id whose suffix does not match).
func NormalizeID(id string) (string, bool) {
	if len(id) != 15 && len(id) != 18 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if strings.IndexByte(base62, id[i]) < 0 {
			return "", false
		}
	}
	full := id[:15] + CaseSafeSuffix(id[:15])
	if len(id) == 18 && !strings.EqualFold(full, id) {
		return "", false
	}
	return full, true
}
