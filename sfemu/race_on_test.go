//go:build race

package sfemu

const raceEnabled = true
