"""Affiliates: referral links, and commissions on referred customers' paid deposits."""
