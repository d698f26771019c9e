package apifields_test

// knownIgnored are fields accepted and silently dropped. Each is a defect to fix;
// the value says what would fix it. Remove the entry with the fix.
var knownIgnored = map[string]string{}

// knownUntested are fields some code honours but no test proves it. Each is a
// defect to fix; the value says what would prove it. Remove the entry with the test.
var knownUntested = map[string]string{}
