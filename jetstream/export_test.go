package jetstream

// Exposure is exposure, for the table test of the non-loopback warning.
var Exposure = exposure
