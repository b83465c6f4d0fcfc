"""The second-opinion stage: the teacher answers again where the inline student was unsure."""
