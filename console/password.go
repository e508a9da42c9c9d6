package console

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is bcrypt's work factor for console passwords: slow enough to make guessing a
// stolen hash expensive, fast enough (about 50 ms) to log in (FM-CON-1).
const PasswordCost = 11

// MinPasswordLength is the shortest password an account may have.
const MinPasswordLength = 12

// HashPassword returns the stored form of a password: a bcrypt hash.
func HashPassword(password string) ([]byte, error) {
	if len(password) < MinPasswordLength {
		return nil, fmt.Errorf("a password needs at least %d characters", MinPasswordLength)
	}
	if len(password) > 72 {
		return nil, fmt.Errorf("a password may have at most 72 bytes (bcrypt's limit)")
	}
	return bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
}

// PasswordMatches compares a password with its stored hash in constant time.
func PasswordMatches(hash []byte, password string) bool {
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

// NewPassword draws a password of 24 characters from an alphabet without look-alikes (about
// 130 bits), for accounts whose password the operator does not choose.
func NewPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
