"""Citizen accounts (a verified mobile number), OTP sign-in and family members."""
